"""The northbound streams of a hub process: what it writes itself, and the outbox forwarding that runs once.

Every process writes its own audit records, and the leader its alarm notifications, through its own connection
to each stream (:class:`StreamLinks`). The stored telemetry is forwarded by one process only, the holder of the
lease ``streams`` (:class:`StreamForwarding`, run by :class:`hub.leader.Leadership`): the forwarders share one
durable cursor per stream, so two processes following it would send every batch twice. A new holder resumes from
that cursor; what the last one sent after its last save is sent again (at least once across a handover).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Self

from hub.errors import SinkUnavailable
from hub.follower import Followers
from hub.logutil import RateLimitedLog
from hub.metrics import Metrics
from hub.retry import Backoff
from hub.store.outbox import Outbox, StoredBatch
from hub.streams.base import StreamSink
from hub.streams.factory import build_sink
from hub.streams.forwarder import Forwarder
from hub.tasks import Background

log = logging.getLogger(__name__)

#: The lease whose holder forwards the outbox to the streams.
LEASE = "streams"


class StreamLinks:
    """This process's connection to each stream, opened in the background (tried again while one is away)."""

    def __init__(self, urls: Sequence[str], *, backoff: Backoff | None = None) -> None:
        self.sinks: list[StreamSink] = [build_sink(url) for url in urls]
        self._backoff = backoff or Backoff(first_s=0.5, cap_s=30.0)
        self._errors = RateLimitedLog(log, interval_s=30.0)
        self._background = Background()

    async def __aenter__(self) -> Self:
        await self._background.open()
        for sink in self.sinks:
            self._background.spawn(self._open(sink), name=f"open {sink.name}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._background.close()
        for sink in self.sinks:
            try:
                await sink.close()
            except SinkUnavailable as error:
                log.warning("stream %s did not close cleanly: %s", sink.name, error)

    async def _open(self, sink: StreamSink) -> None:
        # Until it is open, what goes to it fails and is tried again by the writer (audit, notifications).
        for delay in self._backoff.delays():
            try:
                await sink.open()
            except SinkUnavailable as exc:
                self._errors.warning(sink.name, "stream %s: connecting failed, retrying: %s", sink.name, exc.message)
                await asyncio.sleep(delay)
                continue
            return


class StreamForwarding:
    """The leader's forwarders of the outbox to the streams; calling it starts a term's (a :data:`hub.leader.Duties`).

    Each term opens its own connections: the forwarders close them, with what is left to send, when it ends.
    """

    def __init__(
        self, urls: Sequence[str], outbox: Outbox, metrics: Metrics, followers: Followers, *, drain_s: float
    ) -> None:
        self._urls = list(urls)
        self._outbox = outbox
        self._metrics = metrics
        self._drain_s = drain_s
        #: The forwarders running now: empty while another process holds the lease (for health and metrics).
        self.forwarders: list[Forwarder] = []
        for _ in self._urls:
            # Ingest appends to the outbox in any process configured with streams, leading or not: the
            # forwarding moves between processes, and a batch not appended would be lost to the streams.
            followers.join()

    async def __call__(self, stack: AsyncExitStack) -> None:
        started = []
        for url in self._urls:
            forwarder = Forwarder(build_sink(url), self._outbox, self._metrics, drain_s=self._drain_s)
            started.append(await stack.enter_async_context(forwarder))
            log.info("telemetry also goes to %s (this process forwards the outbox)", forwarder.sink.name)
        self.forwarders.extend(started)
        stack.callback(self.forwarders.clear)  # first on the way out: nothing is offered to a closing forwarder

    def offer(self, batch: StoredBatch) -> None:
        """A batch this process just stored (a pipeline listener; never blocks)."""
        for forwarder in self.forwarders:
            forwarder.offer(batch)

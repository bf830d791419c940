"""Forwarding what the store holds to a stream sink, from a durable cursor, at least once.

Ingest no longer waits for the streams: a device is acknowledged once its message is stored,
and each sink follows the outbox at its own pace. While a sink is down, ingest runs at full
speed, the sink's errors are logged at a bounded rate, and its cursor stays where it was; when it
comes back, the backlog is sent in store order. The cursor is saved every ``save_every_s`` and
on the way out, so a crash sends at most that much again and a restart resumes where it was.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Self

from hub.clock import now_ms
from hub.errors import SinkUnavailable, StoreUnavailable
from hub.follower import OutboxFollower
from hub.logutil import RateLimitedLog
from hub.metrics import Metrics
from hub.retry import Backoff
from hub.store.outbox import Outbox, StoredBatch
from hub.store.telemetry import Message
from hub.streams.base import StreamSink
from hub.tasks import Background

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SinkStatus:
    """How far a sink is behind the store."""

    name: str
    up: bool
    lag_batches: int
    lag_seconds: float


class Forwarder:
    """Sends the outbox to one sink; ``async with`` runs it in a task of its own.

    Leaving the block gives the sink ``drain_s`` to take what was stored before the stop, then
    stops it wherever it is (what it did not take is sent after the next start).
    """

    def __init__(
        self,
        sink: StreamSink,
        outbox: Outbox,
        metrics: Metrics,
        *,
        backoff: Backoff | None = None,
        save_every_s: float = 1.0,
        drain_s: float = 5.0,
    ) -> None:
        self.sink = sink
        self._outbox = outbox
        self._metrics = metrics
        self._backoff = backoff or Backoff(first_s=0.5, cap_s=30.0)
        self._save_every_s = save_every_s
        self._drain_s = drain_s
        self._follower: OutboxFollower | None = None
        self._saved_at = 0.0
        self._up = False
        self._down_since: float | None = None
        self._moved = asyncio.Event()
        self._errors = RateLimitedLog(log, interval_s=30.0)
        self._background = Background()

    @property
    def position(self) -> int:
        """The position of the last batch the sink took."""
        return -1 if self._follower is None else self._follower.position

    async def __aenter__(self) -> Self:
        cursor = await self._outbox.get_cursor(self.sink.name)
        if cursor is None:
            # A new sink starts with what is stored from now on.
            cursor = await self._outbox.head()
            await self._outbox.set_cursor(self.sink.name, cursor)
            log.info("stream %s starts at outbox position %d", self.sink.name, cursor)
        self._saved_at = time.monotonic()
        self._follower = OutboxFollower(self._outbox, cursor)
        await self._background.open()
        self._background.spawn(self._run(), name=f"forward {self.sink.name}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            await self._drain()
        await self._background.close()
        try:
            async with asyncio.timeout(self._drain_s):
                await self._save(force=True)
                await self.sink.close()
        except (TimeoutError, SinkUnavailable) as error:
            log.warning("stream %s did not close cleanly: %s", self.sink.name, error)

    def offer(self, batch: StoredBatch) -> None:
        """A batch this process just stored (the pipeline calls this; never blocks)."""
        if self._follower is not None:
            self._follower.offer(batch)

    async def _drain(self) -> None:
        """Wait up to ``drain_s`` for the sink to take every batch stored so far."""
        try:
            async with asyncio.timeout(self._drain_s):
                target = await self._outbox.head()
                while self.position < target:
                    self._moved.clear()
                    await self._moved.wait()
        except TimeoutError:
            log.warning(
                "stream %s is %d batch(es) behind at shutdown; they follow after the next start",
                self.sink.name,
                await self._outbox.head() - self.position,
            )

    async def _run(self) -> None:
        follower = self._follower
        assert follower is not None
        await self._attempt("connecting", self.sink.open)
        while True:
            batches = await follower.next()
            messages: list[Message] = [message for batch in batches for message in batch.messages]
            await self._attempt("sending", partial(self._send, messages))
            follower.done(batches[-1].position)
            self._moved.set()
            await self._save()

    async def _send(self, messages: Sequence[Message]) -> None:
        await self.sink.send(messages)
        self._metrics.stream_forwarded.labels(self.sink.name).inc(len(messages))

    async def _attempt(self, what: str, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action`` until it succeeds, waiting longer after each failure."""
        delays = self._backoff.delays()
        while True:
            try:
                await action()
            except SinkUnavailable as exc:
                self._went_down(what, exc)
                await self._save()  # keeps the cursor fresh, so trimming knows this sink is alive
                await asyncio.sleep(next(delays))
                continue
            self._came_up()
            return

    def _went_down(self, what: str, exc: SinkUnavailable) -> None:
        self._metrics.stream_errors.labels(self.sink.name).inc()
        if self._up or self._down_since is None:
            self._down_since = time.monotonic()
        self._up = False
        self._metrics.stream_up.labels(self.sink.name).set(0)
        self._errors.warning(
            self.sink.name, "stream %s: %s failed, retrying (ingest goes on): %s", self.sink.name, what, exc.message
        )

    def _came_up(self) -> None:
        if not self._up:
            if self._down_since is not None:
                log.info("stream %s is back after %.0f s", self.sink.name, time.monotonic() - self._down_since)
            self._up = True
            self._down_since = None
            self._metrics.stream_up.labels(self.sink.name).set(1)

    async def _save(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._saved_at < self._save_every_s:
            return
        position = self.position
        try:
            await self._outbox.set_cursor(self.sink.name, position)
        except StoreUnavailable as exc:
            self._errors.warning("cursor", "saving the cursor of stream %s failed: %s", self.sink.name, exc.message)
            return
        self._saved_at = time.monotonic()

    async def status(self) -> SinkStatus:
        """The sink's state and lag, also set on its gauges."""
        position = self.position
        head = await self._outbox.head()
        oldest = await self._outbox.oldest_after(position) if head > position else None
        lag_s = 0.0 if oldest is None else max(0.0, (now_ms() - oldest) / 1000)
        lag = max(0, head - position)
        self._metrics.stream_lag_batches.labels(self.sink.name).set(lag)
        self._metrics.stream_lag_seconds.labels(self.sink.name).set(lag_s)
        return SinkStatus(self.sink.name, self._up, lag, lag_s)

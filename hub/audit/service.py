"""The audit service: the API records, a writer stores, a streamer writes what was stored to the streams.

:meth:`Audit.record` is cheap and never fails or waits: it puts the record on a bounded queue. One writer task
stores what is queued in one write (a store that is away is retried with capped backoff, the records wait in the
queue); when the queue is full the newest record is dropped, counted and logged, since a request must not wait on
its own audit record. What this process stored goes to each northbound stream in store order, through a bounded
queue per stream (full: the record stays in the store, but that stream misses it, counted), so a stream that is
away holds up only itself; it is tried again with capped backoff and the same record id, so a consumer drops a
repeat. Leaving the block stores what is left and gives the streams ``drain_s`` to take what waits for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import orjson

from contracts.audit import AUDIT_SCHEMA_VERSION, AuditRecord
from hub.batches import BatchWriter
from hub.errors import SinkUnavailable
from hub.logutil import RateLimitedLog
from hub.retention import keep_for
from hub.retry import Backoff
from hub.store.audit import AuditQuery, AuditStore, NewAuditRecord
from hub.streams.base import StreamSink
from hub.tasks import Background

log = logging.getLogger(__name__)

#: Most records the writer stores at once.
BATCH = 500


@dataclass(frozen=True, slots=True)
class AuditRetention:
    """Keep records for ``days``; trim every ``interval_s``."""

    days: float = 365.0
    interval_s: float = 3600.0


@dataclass(slots=True)
class _Feed:
    """The stored records waiting for one stream, oldest first; the first leaves once the stream took it."""

    sink: StreamSink
    waiting: deque[AuditRecord] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    #: The last attempt failed: the exit does not wait for this stream.
    down: bool = False


def stream_body(record: AuditRecord) -> bytes:
    """The JSON a stream gets: the record as the API lists it, with ``schema_version``."""
    return orjson.dumps({"schema_version": AUDIT_SCHEMA_VERSION, **record.model_dump(mode="json")})


class Audit:
    """Records, stores and streams the audit trail; ``async with`` runs the writer, streamer and retention."""

    def __init__(
        self,
        store: AuditStore,
        *,
        sinks: Sequence[StreamSink] = (),
        retention: AuditRetention | None = None,
        queue_size: int = 10_000,
        backoff: Backoff | None = None,
        drain_s: float = 5.0,
    ) -> None:
        self.store = store
        self._feeds = [_Feed(sink) for sink in sinks]
        self._retention = retention
        self._queue_size = queue_size
        self._drain_s = drain_s
        self._backoff = backoff or Backoff(first_s=0.1, cap_s=5.0)
        self._background = Background()
        self._log = RateLimitedLog(log)
        self._writer = BatchWriter(
            store.append, self._offer, self._log, what="audit record(s)", batch=BATCH, queue_size=queue_size,
            backoff=self._backoff,
        )  # fmt: skip
        #: Records dropped because the queue was full (the store was away too long, or they came too fast).
        self.dropped = 0
        #: Stored records a stream missed because too many waited for it (counted once per stream).
        self.stream_dropped = 0

    async def __aenter__(self) -> Self:
        await self._background.open()
        self._background.spawn(self._writer.run(), name="audit-writer")
        for feed in self._feeds:
            self._background.spawn(self._stream(feed), name=f"audit-stream {feed.sink.name}")
        if self._retention is not None:
            trim, days = self.store.trim, self._retention.days
            self._background.spawn(
                keep_for(days, self._retention.interval_s, trim, "audit", log), name="audit-retention"
            )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._background.close()
        # What was recorded but not yet stored gets one more try; the store closes after this.
        await self._writer.close()
        # The streams close after this (the runtime enters the audit after the forwarders).
        await self._drain()

    def record(self, entry: NewAuditRecord) -> None:
        """Record a change or sign-in (not a coroutine: it never waits)."""
        if not self._writer.put(entry):
            self.dropped += 1
            self._log.warning("audit", "dropped an audit record (%s): the audit queue is full", entry.action)

    async def query(self, query: AuditQuery) -> list[AuditRecord]:
        """Stored records matching ``query``, newest first (see :meth:`AuditStore.query`)."""
        return await self.store.query(query)

    def _offer(self, stored: list[AuditRecord]) -> None:
        for feed in self._feeds:
            for record in stored:
                if len(feed.waiting) >= self._queue_size:  # the newest is dropped: the order of the rest holds
                    self.stream_dropped += 1
                    self._log.warning(
                        f"audit-stream-full:{feed.sink.name}", "audit record %d not streamed to %s: too many waiting",
                        record.id, feed.sink.name,
                    )  # fmt: skip
                    continue
                feed.waiting.append(record)
            feed.ready.set()

    async def _stream(self, feed: _Feed) -> None:
        while True:
            while not feed.waiting:
                feed.ready.clear()
                await feed.ready.wait()
            record = feed.waiting[0]
            for delay in self._backoff.delays():
                if await self._send(feed, record):
                    break
                await asyncio.sleep(delay)  # backoff between attempts at the stream
            feed.waiting.popleft()  # only now: a record cancelled on its way is the first the drain sends

    async def _send(self, feed: _Feed, record: AuditRecord) -> bool:
        """One attempt at sending ``record`` to ``feed``'s stream; whether it took it."""
        try:
            await feed.sink.send_audit(record.tenant, stream_body(record), f"audit-{record.id}")
        except SinkUnavailable as exc:
            feed.down = True
            self._log.warning(
                f"audit-stream:{feed.sink.name}", "audit record %d to %s failed, trying again: %s", record.id,
                feed.sink.name, exc.message,
            )  # fmt: skip
            return False
        feed.down = False
        return True

    async def _drain(self) -> None:
        """Send what waits for each stream that is up, for at most ``drain_s``; a failure ends a stream's drain.

        A stream that is away does not hold the exit: what it has not taken is lost to it (it stays in the store).
        """

        async def flush(feed: _Feed) -> None:
            while feed.waiting and not feed.down and await self._send(feed, feed.waiting[0]):
                feed.waiting.popleft()

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._drain_s), asyncio.TaskGroup() as group:
                for feed in self._feeds:
                    group.create_task(flush(feed), name=f"audit-drain {feed.sink.name}")
        for feed in self._feeds:
            if feed.waiting:
                log.warning(
                    "%d audit record(s) not streamed to %s on the way out (from id %d), they stay in the store",
                    len(feed.waiting), feed.sink.name, feed.waiting[0].id,
                )  # fmt: skip

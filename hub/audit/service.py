"""The audit service: the API records, a writer stores, a streamer writes what was stored to the streams.

:meth:`Audit.record` is cheap and never fails or waits: it puts the record on a bounded queue. One writer task
stores what is queued in one write (a store that is away is retried with capped backoff, the records wait in the
queue); when the queue is full the newest record is dropped, counted and logged, since a request must not wait on
its own audit record. What this process stored goes to each northbound stream in order, through a second
bounded queue (full: the record stays in the store, but that stream misses it, counted); a stream that is away
is tried again with the same record id, so a consumer drops a repeat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import orjson

from contracts.audit import AUDIT_SCHEMA_VERSION, AuditRecord
from hub.clock import now_ms
from hub.errors import SinkUnavailable, StoreUnavailable
from hub.logutil import RateLimitedLog
from hub.retry import Backoff
from hub.store.audit import AuditQuery, AuditStore, NewAuditRecord
from hub.streams.base import StreamSink
from hub.tasks import Background

log = logging.getLogger(__name__)

#: Most records the writer stores at once.
BATCH = 500
_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class AuditRetention:
    """Keep records for ``days``; trim every ``interval_s``."""

    days: float = 365.0
    interval_s: float = 3600.0


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
    ) -> None:
        self.store = store
        self._sinks = list(sinks)
        self._retention = retention
        self._queue: asyncio.Queue[NewAuditRecord] = asyncio.Queue(maxsize=queue_size)
        self._outgoing: asyncio.Queue[AuditRecord] = asyncio.Queue(maxsize=queue_size)
        self._backoff = backoff or Backoff(first_s=0.1, cap_s=5.0)
        self._pending: list[NewAuditRecord] = []
        self._background = Background()
        self._log = RateLimitedLog(log)
        #: Records dropped because the queue was full (the store was away too long, or they came too fast).
        self.dropped = 0
        #: Stored records the streams missed because too many waited for a stream that was away.
        self.stream_dropped = 0

    async def __aenter__(self) -> Self:
        await self._background.open()
        self._background.spawn(self._write(), name="audit-writer")
        if self._sinks:
            self._background.spawn(self._stream(), name="audit-streamer")
        if self._retention is not None:
            self._background.spawn(self._trim(self._retention), name="audit-retention")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._background.close()
        # What was recorded but not yet stored gets one more try; the store closes after this.
        left = self._pending + [self._queue.get_nowait() for _ in range(self._queue.qsize())]
        self._pending = []
        if left:
            try:
                await self.store.append(left)
            except StoreUnavailable as failure:
                log.warning("%d audit record(s) lost on the way out, the store is away: %s", len(left), failure.message)

    def record(self, entry: NewAuditRecord) -> None:
        """Record a change or sign-in (not a coroutine: it never waits)."""
        try:
            self._queue.put_nowait(entry)
        except asyncio.QueueFull:
            self.dropped += 1
            self._log.warning("audit", "dropped an audit record (%s): the audit queue is full", entry.action)

    async def query(self, query: AuditQuery) -> list[AuditRecord]:
        """Stored records matching ``query``, newest first (see :meth:`AuditStore.query`)."""
        return await self.store.query(query)

    async def _write(self) -> None:
        while True:
            if not self._pending:
                self._pending = [await self._queue.get()]
                while len(self._pending) < BATCH and not self._queue.empty():
                    self._pending.append(self._queue.get_nowait())
            delays = self._backoff.delays()
            while True:
                try:
                    stored = await self.store.append(self._pending)
                    break
                except StoreUnavailable as exc:
                    delay = next(delays)
                    self._log.warning(
                        "audit-store", "storing %d audit record(s) failed, again in %.1fs: %s", len(self._pending),
                        delay, exc.message,
                    )  # fmt: skip
                    await asyncio.sleep(delay)  # backoff between attempts at the store
            self._pending = []
            if self._sinks:
                self._offer(stored)

    def _offer(self, stored: list[AuditRecord]) -> None:
        for record in stored:
            try:
                self._outgoing.put_nowait(record)
            except asyncio.QueueFull:
                self.stream_dropped += 1
                self._log.warning(
                    "audit-stream-full", "audit record %d not streamed: the streams are behind", record.id
                )

    async def _stream(self) -> None:
        while True:
            record = await self._outgoing.get()
            body = stream_body(record)
            for sink in self._sinks:
                delays = self._backoff.delays()
                while True:
                    try:
                        await sink.send_audit(record.tenant, body, f"audit-{record.id}")
                        break
                    except SinkUnavailable as exc:
                        delay = next(delays)
                        self._log.warning(
                            "audit-stream", "audit record to %s failed, again in %.1fs: %s", sink.name, delay,
                            exc.message,
                        )  # fmt: skip
                        await asyncio.sleep(delay)  # backoff between attempts at the stream

    async def _trim(self, retention: AuditRetention) -> None:
        while True:
            try:
                removed = await self.store.trim(now_ms() - int(retention.days * _DAY_MS))
            except StoreUnavailable as exc:
                log.warning("audit retention failed, trying again later: %s", exc.message)
            else:
                if removed:
                    log.info("audit retention removed %d record(s)", removed)
            await asyncio.sleep(retention.interval_s)  # a periodic job: nothing to wait for but time

"""The ingest pipeline: parse on arrival, queue (bounded), group-commit to the store, then the streams.

Policy when the queue is full: :meth:`IngestPipeline.submit` waits, which holds up the
broker session that sent the message (backpressure) instead of dropping it. The writer
takes everything queued at once (group commit), so batches grow with load and latency
stays low when idle. A failed write is retried with backoff, never dropped.

With stream sinks, a second task sends each stored batch to them, in store order, while the
writer stores the next one: waiting for a stream's acknowledgement no longer stops the store.
A message is acknowledged only once the store and every stream have it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from types import TracebackType
from typing import Self, TypeVar

from contracts.telemetry import Limits, PayloadRejected, parse_telemetry
from hub.errors import SinkUnavailable, StoreUnavailable
from hub.ingest.accepted import Accepted
from hub.logutil import RateLimitedLog, truncate
from hub.metrics import Metrics
from hub.store.base import DeviceReadings, Store
from hub.streams.base import StreamSink

log = logging.getLogger(__name__)
T = TypeVar("T")


Listener = Callable[[list[Accepted]], None]
_STOP = object()


def now_ms() -> int:
    """Hub time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


class IngestPipeline:
    """Owns the queue and the writer task; leave the ``async with`` to flush and stop."""

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        limits: Limits,
        *,
        queue_size: int = 10_000,
        max_batch_points: int = 20_000,
        retry_max_s: float = 5.0,
        sinks: Sequence[StreamSink] = (),
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._limits = limits
        self._queue: asyncio.Queue[Accepted | object] = asyncio.Queue(maxsize=queue_size)
        self._max_batch_points = max_batch_points
        self._retry_max_s = retry_max_s
        self._sinks = list(sinks)
        self._listeners: list[Listener] = []
        self._rejects = RateLimitedLog(log)
        # Stored batches waiting for the streams; bounded, so a slow stream holds the writer back.
        self._stored: asyncio.Queue[list[Accepted] | object] = asyncio.Queue(maxsize=2)
        self._tasks: asyncio.TaskGroup | None = None
        self._running: list[asyncio.Task[None]] = []
        self._closed = False

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` with every batch after it is stored."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener``."""
        self._listeners.remove(listener)

    async def __aenter__(self) -> Self:
        self._tasks = asyncio.TaskGroup()
        await self._tasks.__aenter__()
        self._running = [self._tasks.create_task(self._writer(), name="ingest-writer")]
        if self._sinks:
            self._running.append(self._tasks.create_task(self._streamer(), name="ingest-streams"))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closed = True
        if exc is None:
            # Graceful: let the writer store everything accepted before stopping.
            await self._queue.put(_STOP)
        assert self._tasks is not None
        if exc is not None:
            for task in self._running:
                task.cancel()
        await self._tasks.__aexit__(exc_type, exc, tb)

    async def submit(self, device_id: str, tenant: str, payload: bytes, *, stored: bool = False) -> bool:
        """Validate one telemetry message and queue it; ``False`` if it was refused (and counted).

        With ``stored``, return only once the message is written to the store (group commit:
        many waiting senders share one transaction).
        """
        received = now_ms()
        try:
            readings = parse_telemetry(payload, received, self._limits)
        except PayloadRejected as exc:
            self._metrics.rejected_by[exc.reason].inc()
            self._rejects.warning(
                f"{device_id}:{exc.reason}",
                "refused telemetry from %s: %s; payload %r",
                device_id,
                exc,
                truncate(payload),
            )
            return False
        if self._closed:
            raise StoreUnavailable("ingest is shutting down")
        written = asyncio.get_running_loop().create_future() if stored else None
        await self._queue.put(Accepted(device_id, tenant, readings, received, written))
        if written is not None:
            await written
        return True

    async def drained(self) -> None:
        """Wait until everything queued so far has been stored."""
        await self._queue.join()

    def _take_batch(self, first: Accepted) -> tuple[list[Accepted], bool]:
        batch, points, stop = [first], len(first.readings), False
        while points < self._max_batch_points:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            if item is _STOP:
                stop = True
                self._queue.task_done()
                break
            assert isinstance(item, Accepted)
            batch.append(item)
            points += len(item.readings)
        return batch, stop

    async def _writer(self) -> None:
        stop = False
        while not stop:
            first = await self._queue.get()
            if first is _STOP:
                self._queue.task_done()
                break
            assert isinstance(first, Accepted)
            batch, stop = self._take_batch(first)
            self._metrics.queue_depth.set(self._queue.qsize())
            await self._write(batch)
            if self._sinks:
                await self._stored.put(batch)
            else:
                self._finish(batch)
        if self._sinks:
            await self._stored.put(_STOP)  # the streamer stops after the batches queued before it

    async def _streamer(self) -> None:
        while True:
            batch = await self._stored.get()
            if batch is _STOP:
                return
            assert isinstance(batch, list)
            for sink in self._sinks:
                # Before anyone is acknowledged: a stream that is down holds ingest back, it loses nothing.
                await self._retry(f"stream {sink.name}", partial(sink.send, batch))
            self._finish(batch)

    async def _retry(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt`` until it succeeds, waiting longer after each failure (never dropping the batch)."""
        delay = 0.05
        while True:
            try:
                return await attempt()
            except (StoreUnavailable, SinkUnavailable) as exc:
                log.error("%s failed, retrying in %.2fs: %s", what, delay, exc.message)  # noqa: TRY400 - expected, no traceback
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max_s)

    async def _write(self, batch: list[Accepted]) -> None:
        batches = [DeviceReadings(item.device_id, item.readings) for item in batch]
        seen = {item.device_id: item.received for item in batch}
        points = sum(len(item.readings) for item in batch)
        started = time.perf_counter()
        result = await self._retry(f"store write of {points} points", lambda: self._store.write_points(batches, seen))
        self._metrics.write_seconds.observe(time.perf_counter() - started)
        self._metrics.messages.inc(len(batch))
        self._metrics.points.inc(points)
        self._metrics.stored.inc(result.stored)
        self._metrics.duplicates.inc(result.duplicates)

    def _finish(self, batch: list[Accepted]) -> None:
        """The batch is stored and streamed: tell the listeners, then release its senders."""
        for listener in self._listeners:
            try:
                listener(batch)
            except Exception:
                log.exception("ingest listener %r failed", listener)
        for item in batch:
            if item.written is not None and not item.written.done():
                item.written.set_result(None)
            self._queue.task_done()

"""The ingest pipeline: parse on arrival, queue (bounded), group-commit to the store, then acknowledge.

Policy when the queue is full: :meth:`IngestPipeline.submit` waits, which holds up the
broker session that sent the message (backpressure) instead of dropping it. The writer
takes everything queued at once (group commit), so batches grow with load and latency
stays low when idle. A write the store could not take is retried with backoff, never dropped;
a batch that fails for any other reason is split until the message that fails is found, and
that one alone is refused and counted (a poison message must not hold up every device).

A message is acknowledged once it is stored. The store is the outbox: stream sinks and live
feeds follow what was stored (see :mod:`hub.store.outbox`); the listeners here only hand them
each new batch in memory, so none of them can hold ingest back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

from contracts.errors import RejectReason
from contracts.telemetry import Arrivals, Limits, PayloadRejected, parse_telemetry
from contracts.topics import telemetry_topic
from hub.clock import now_ms
from hub.errors import StoreUnavailable
from hub.follower import Followers
from hub.ingest.accepted import Accepted
from hub.logutil import RateLimitedLog
from hub.metrics import Metrics
from hub.profiles.conformance import ProfileCheck
from hub.retry import Backoff
from hub.store.outbox import Outbox, StoredBatch
from hub.store.telemetry import Message, TelemetryStore, WriteResult
from hub.tasks import Background

log = logging.getLogger(__name__)


#: What each refusal means, in words that quote nothing of the message (logged with the reason).
EXPLAINED: dict[RejectReason, str] = {
    RejectReason.PAYLOAD_TOO_LARGE: "larger than ingest.max_payload_bytes",
    RejectReason.MALFORMED_JSON: "not JSON",
    RejectReason.SCHEMA: "not of the telemetry shape in docs/devices.md",
    RejectReason.TOO_MANY_VALUES: "more readings than ingest.max_values",
    RejectReason.TS_OUT_OF_RANGE: "a ts before 2000: ts is epoch milliseconds, not seconds",
    RejectReason.TS_IN_FUTURE: "a ts further ahead of hub time than ingest.max_future_s",
    RejectReason.UNKNOWN_TOPIC: "not a telemetry topic",
    RejectReason.UNDECLARED_KEY: "a key the device's strict profile does not declare",
    RejectReason.WRONG_TYPE: "a value of another type than the device's strict profile declares",
    RejectReason.OUT_OF_RANGE: "a value outside the range the device's strict profile declares",
    RejectReason.UNPROCESSABLE: "cannot be stored",
}
Listener = Callable[[StoredBatch], None]
Observer = Callable[[Sequence[Message]], None]
_STOP = object()


class IngestPipeline:
    """Owns the queue, the writer and the outbox trimming; leave the ``async with`` to flush and stop."""

    def __init__(
        self,
        telemetry: TelemetryStore,
        outbox: Outbox,
        metrics: Metrics,
        limits: Limits,
        arrivals: Arrivals,
        *,
        followers: Followers,
        profiles: ProfileCheck | None = None,
        queue_size: int = 10_000,
        max_batch_points: int = 20_000,
        backoff: Backoff | None = None,
        outbox_keep_s: float = 60.0,
        cursor_expiry_s: float = 7 * 86400.0,
        trim_every_s: float = 10.0,
    ) -> None:
        self._telemetry = telemetry
        self._outbox = outbox
        self._followers = followers
        self._profiles = profiles
        self._cursor_expiry_ms = int(cursor_expiry_s * 1000)
        self._metrics = metrics
        self._limits = limits
        self._arrivals = arrivals
        self._queue: asyncio.Queue[Accepted | object] = asyncio.Queue(maxsize=queue_size)
        # asyncio.Queue lets a newcomer overtake a waiting putter when a slot frees; the lock is fair,
        # so messages enter the queue in the order they arrived, also under backpressure.
        self._entry = asyncio.Lock()
        self._max_batch_points = max_batch_points
        self._backoff = backoff or Backoff(first_s=0.05, cap_s=5.0)
        self._outbox_keep_ms = int(outbox_keep_s * 1000)
        self._trim_every_s = trim_every_s
        self._listeners: list[Listener] = []
        self._observers: list[Observer] = []
        self._rejects = RateLimitedLog(log)
        self._background = Background()
        self._writing: asyncio.Task[None] | None = None
        self._closed = False

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` with every batch appended to the outbox, once stored (it must not block)."""
        self._listeners.append(listener)

    def add_observer(self, observer: Observer) -> None:
        """Call ``observer`` with the messages of every stored batch, in the outbox or not (it must not block)."""
        self._observers.append(observer)

    def remove_observer(self, observer: Observer) -> None:
        """Stop calling ``observer``."""
        self._observers.remove(observer)

    async def __aenter__(self) -> Self:
        await self._background.open()
        self._writing = self._background.spawn(self._writer(), name="ingest-writer")
        self._background.spawn(self._trimmer(), name="outbox-trimmer")
        self._background.spawn(self._followers.run(), name="outbox-followers")
        if self._profiles is not None:
            self._background.spawn(self._profiles.run(), name="profile-cache")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closed = True
        if exc is None and self._writing is not None:
            # Graceful: let the writer store everything accepted before stopping.
            await self._queue.put(_STOP)
            await asyncio.wait([self._writing])
        await self._background.close()

    async def submit(self, device_id: str, tenant: str, payload: bytes, *, stored: bool = False) -> RejectReason | None:
        """Validate one telemetry message and queue it; why it was refused (and counted), ``None`` if it was not.

        With ``stored``, return only once the message is written to the store (group commit:
        many waiting senders share one transaction).
        """
        received = now_ms()
        try:
            readings = parse_telemetry(payload, received, self._limits, self._arrivals)
        except PayloadRejected as exc:
            return self._refuse(device_id, exc.reason)
        if self._profiles is not None:
            misfit = await self._profiles.check(device_id, tenant, readings)
            if misfit is not None:
                return self._refuse(device_id, misfit)
        if self._closed:
            raise StoreUnavailable("ingest is shutting down")
        written: asyncio.Future[RejectReason | None] | None = None
        if stored:
            written = asyncio.get_running_loop().create_future()
        async with self._entry:
            await self._queue.put(Accepted(device_id, tenant, readings, received, written))
        return None if written is None else await written

    def _refuse(self, device_id: str, reason: RejectReason) -> RejectReason:
        self._metrics.rejected_by[reason].inc()
        # Device id, topic and reason only: the payload, and the parser's detail that quotes it, can be sensitive.
        self._rejects.warning(
            f"{device_id}:{reason}",
            "refused telemetry of %s on %s: %s (%s)",
            device_id,
            telemetry_topic(device_id),
            reason.value,
            EXPLAINED[reason],
        )
        return reason

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

    async def _write(self, batch: list[Accepted]) -> None:
        """Store ``batch`` (or, if it cannot be stored, every part of it that can), then acknowledge it."""
        try:
            result = await self._store_batch(batch)
        except Exception as exc:  # noqa: BLE001 - anything but an unavailable store: find the message that fails
            if len(batch) == 1:
                self._refuse_poison(batch[0], exc)
                return
            middle = len(batch) // 2
            await self._write(batch[:middle])
            await self._write(batch[middle:])
            return
        points = sum(len(item.readings) for item in batch)
        self._metrics.messages.inc(len(batch))
        self._metrics.points.inc(points)
        self._metrics.stored.inc(result.stored)
        self._metrics.duplicates.inc(result.duplicates)
        self._finish(batch, None if result.position is None else StoredBatch(result.position, now_ms(), batch))

    async def _store_batch(self, batch: list[Accepted]) -> WriteResult:
        """Write until the store takes it, waiting longer after each time it was unavailable."""
        delays = self._backoff.delays()
        while True:
            started = time.perf_counter()
            try:
                result = await self._telemetry.write_points(batch, outbox=self._followers.wanted)
            except StoreUnavailable as exc:
                delay = next(delays)
                self._rejects.warning(
                    "store",
                    "store write of %d message(s) failed, retrying in %.2fs: %s",
                    len(batch),
                    delay,
                    exc.message,
                )
                await asyncio.sleep(delay)
                continue
            self._metrics.write_seconds.observe(time.perf_counter() - started)
            return result

    def _refuse_poison(self, item: Accepted, exc: Exception) -> None:
        """A message the store fails on every time: refuse and count it, and let its sender go on."""
        self._metrics.rejected_by[RejectReason.UNPROCESSABLE].inc()
        log.error(
            "refused a message of %s that cannot be stored (%s: %s)",
            item.device_id,
            type(exc).__name__,
            str(exc)[:200],
            exc_info=exc,
        )
        self._release([item], RejectReason.UNPROCESSABLE)

    def _finish(self, batch: list[Accepted], stored: StoredBatch | None) -> None:
        """The batch is stored: hand it to the listeners (if it went to the outbox), then release its senders."""
        if stored is not None:
            for listener in self._listeners:
                try:
                    listener(stored)
                except Exception:
                    log.exception("ingest listener %r failed", listener)
        for observer in self._observers:
            try:
                observer(batch)
            except Exception:
                log.exception("ingest observer %r failed", observer)
        self._release(batch)

    def _release(self, batch: list[Accepted], refused: RejectReason | None = None) -> None:
        for item in batch:
            if item.written is not None and not item.written.done():
                item.written.set_result(refused)
            self._queue.task_done()

    async def _trimmer(self) -> None:
        """Drop outbox batches every consumer has passed once they are older than the retention."""
        while True:
            await asyncio.sleep(self._trim_every_s)  # periodic housekeeping: nothing to wait for but time
            try:
                now = now_ms()
                trimmed = await self._outbox.trim(now - self._outbox_keep_ms, now - self._cursor_expiry_ms)
            except StoreUnavailable as exc:
                self._rejects.warning("trim", "trimming the outbox failed: %s", exc.message)
                continue
            if trimmed:
                log.debug("trimmed %d outbox batch(es)", trimmed)

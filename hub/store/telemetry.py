"""The telemetry store: batches of readings in, raw points, aggregates and latest values out.

Timestamps are epoch milliseconds (UTC). No SQL or driver type crosses this boundary.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from contracts.telemetry import Reading, Value

#: The spans (ms) of the rollups kept per series: one minute and one hour. Aggregate queries whose interval is a
#: multiple of a span read whole spans from the rollup instead of every raw point.
ROLLUP_SPANS = (60_000, 3_600_000)


class Message(Protocol):
    """One telemetry message as ingest accepted it: what the store writes and the outbox hands on.

    Ingest hands its parsed readings over unchanged: building an object per point on the way
    to the store cost a fifth of the batched ingest path. A reading's ``seq`` identifies
    redeliveries (see :class:`contracts.telemetry.Reading`).
    """

    @property
    def device_id(self) -> str: ...
    @property
    def tenant(self) -> str: ...
    @property
    def received(self) -> int:
        """Hub receive time, epoch milliseconds (the device's last seen)."""

    @property
    def readings(self) -> Sequence[Reading]: ...


class DeviceReadings(NamedTuple):
    """A :class:`Message` as a plain tuple (read back from the outbox, or built by hand)."""

    device_id: str
    tenant: str
    received: int
    readings: Sequence[Reading]


class AggFn(enum.StrEnum):
    """Aggregations over numeric values (booleans count as 0/1; count counts every point)."""

    AVG = "avg"
    MIN = "min"
    MAX = "max"
    SUM = "sum"
    COUNT = "count"


@dataclass(frozen=True, slots=True)
class RangeQuery:
    """Points of one key of one device in ``[start, end)``."""

    device_id: str
    key: str
    start: int | None = None
    end: int | None = None
    limit: int = 1000
    descending: bool = False


@dataclass(frozen=True, slots=True)
class AggregateQuery:
    """Buckets of ``interval_ms`` (aligned to the epoch) over a range."""

    range: RangeQuery
    fn: AggFn
    interval_ms: int


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Outcome of a batch write; ``position`` is the batch's place in the outbox (see :mod:`hub.store.outbox`),
    ``None`` when it was not appended."""

    stored: int
    duplicates: int
    position: int | None


class Summary(NamedTuple):
    """The points of one span: ``n`` of them, ``nums`` numeric, whose ``sum``, ``min`` and ``max`` these are
    (``min`` and ``max`` are ``None`` without a numeric point)."""

    n: int
    nums: int
    sum: float
    min: float | None
    max: float | None


class TelemetryStore(Protocol):
    """Points of every series. Implementations are async and safe to share."""

    async def write_points(self, batch: Sequence[Message], *, outbox: bool = True) -> WriteResult:
        """Store a batch atomically, dropping duplicates, and update latest values and last seen.

        With ``outbox``, the batch is appended to the outbox in the same transaction, whole (duplicates
        too: the streams are at least once), so what was stored and what is forwarded never differ.
        """

    async def query_range(self, query: RangeQuery) -> list[tuple[int, Value]]:
        """Raw points ``(ts, value)`` in time order."""

    async def identified_points(self, query: RangeQuery) -> list[tuple[int, int, Value]]:
        """Raw points ``(ts, ident, value)`` in time order, equal times by ident: :meth:`query_range` with what
        identifies each point in its series (a reading's ``seq``, or its time; see :func:`hub.store.columns.ident`).
        Written back as readings whose ``seq`` is the ident, they are the same points (``fieldhub store migrate``)."""

    async def rollups_until(self, device_id: str, key: str, span_ms: int, end: int) -> list[tuple[int, Summary]]:
        """A series' rollups of ``span_ms`` (one of :data:`ROLLUP_SPANS`) whose span ends by ``end`` (epoch ms),
        ``(span_start, summary)`` oldest first: with those of times whose raw points retention removed, which no
        copy of the raw points rebuilds (``fieldhub store migrate`` copies them)."""

    async def query_aggregate(self, query: AggregateQuery) -> list[tuple[int, float]]:
        """Buckets ``(bucket_start, aggregate)`` in time order; empty buckets are absent."""

    async def latest(self, device_id: str) -> dict[str, tuple[int, Value]]:
        """Latest ``(ts, value)`` per key of a device."""

    async def last_heard(self, device_ids: Sequence[str], key: str | None) -> dict[str, int]:
        """Per device, the time of its newest reading of ``key`` (``None``: when the hub last heard it, its last
        seen), epoch ms; devices without one are absent. One query for many devices (the no-data watch)."""

    async def drop_raw(self, tenant: str, before: int) -> int:
        """Delete the raw points of the tenant's devices older than ``before`` (epoch ms), a whole chunk or bucket
        at a time (those whose newest point is older), and return how many points went; rollups stay."""

    async def drop_rollups(self, span_ms: int, before: int) -> int:
        """Delete the rollups of ``span_ms`` (one of :data:`ROLLUP_SPANS`) whose span starts before ``before``;
        return how many."""

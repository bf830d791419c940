"""The audit service's streaming: per-stream order and ids, a stream that is away holding up only itself, the exit.

The store and the streams are fakes: what is checked is the service's queueing, retries and drain.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import orjson
import pytest

from contracts.audit import AuditRecord
from hub.audit.service import Audit
from hub.errors import SinkUnavailable
from hub.retry import Backoff
from hub.store.audit import AuditQuery, NewAuditRecord

pytestmark = pytest.mark.timeout(10)

FAST = Backoff(first_s=0.01, cap_s=0.02)


class MemoryAudit:
    """An audit store in memory: ids rise from 1."""

    def __init__(self) -> None:
        self.stored: list[AuditRecord] = []

    async def append(self, records: Sequence[NewAuditRecord]) -> list[AuditRecord]:
        start = len(self.stored) + 1
        made = [
            AuditRecord(id=start + i, ts=r.ts, actor=r.actor, action=r.action, tenant=r.tenant, outcome=r.outcome)
            for i, r in enumerate(records)
        ]
        self.stored += made
        return made

    async def query(self, query: AuditQuery) -> list[AuditRecord]:
        return list(reversed(self.stored))[: query.limit]

    async def trim(self, before: int) -> int:
        return 0


class Stream:
    """A stream that takes every audit record (``up``) or refuses each with SinkUnavailable."""

    def __init__(self, name: str, *, up: bool = True) -> None:
        self.name = name
        self.up = up
        self.attempts: list[str] = []
        self.taken: asyncio.Queue[tuple[str | None, dict[str, object], str]] = asyncio.Queue()
        self.tried = asyncio.Event()

    async def send_audit(self, tenant: str | None, body: bytes, record_id: str) -> None:
        self.attempts.append(record_id)
        self.tried.set()
        if not self.up:
            raise SinkUnavailable(f"{self.name} is away")
        await self.taken.put((tenant, orjson.loads(body), record_id))

    async def open(self) -> None: ...
    async def send(self, batch: Sequence[object]) -> None: ...
    async def send_alarm(self, tenant: str, device_id: str, body: bytes, record_id: str) -> None: ...
    async def close(self) -> None: ...


def entry(n: int, tenant: str | None = "default") -> NewAuditRecord:
    return NewAuditRecord(ts=1000 + n, actor=None, action=f"device.create_{n}", outcome="ok", tenant=tenant)


async def taken(stream: Stream, count: int) -> list[tuple[str | None, dict[str, object], str]]:
    return [await asyncio.wait_for(stream.taken.get(), 5) for _ in range(count)]


async def test_records_reach_each_stream_in_store_order_with_their_ids() -> None:
    stream = Stream("one")
    async with Audit(MemoryAudit(), sinks=[stream], backoff=FAST) as audit:
        for n in range(3):
            audit.record(entry(n, tenant=None if n == 2 else "default"))
        got = await taken(stream, 3)
    assert [record_id for _, _, record_id in got] == ["audit-1", "audit-2", "audit-3"]
    assert [body["action"] for _, body, _ in got] == ["device.create_0", "device.create_1", "device.create_2"]
    assert got[0][1]["schema_version"] == 1 and got[0][1]["id"] == 1
    assert [tenant for tenant, _, _ in got] == ["default", "default", None]


async def test_a_stream_that_is_away_holds_up_only_itself_and_is_tried_again_with_the_same_id() -> None:
    away, up = Stream("away", up=False), Stream("up")
    async with Audit(MemoryAudit(), sinks=[away, up], backoff=FAST) as audit:
        for n in range(3):
            audit.record(entry(n))
        assert [record_id for _, _, record_id in await taken(up, 3)] == ["audit-1", "audit-2", "audit-3"]
        while len(away.attempts) < 3:
            away.tried.clear()
            await away.tried.wait()
        assert set(away.attempts) == {"audit-1"}  # the first record, again and again: the order holds
        away.up = True
        got = await taken(away, 3)
    assert [record_id for _, _, record_id in got] == ["audit-1", "audit-2", "audit-3"]


async def test_a_full_stream_queue_drops_for_that_stream_only() -> None:
    away, up = Stream("away", up=False), Stream("up")
    async with Audit(MemoryAudit(), sinks=[away, up], backoff=FAST, queue_size=2) as audit:
        for n in range(2):
            audit.record(entry(n))
        await taken(up, 2)
        audit.record(entry(2))
        await taken(up, 1)
        assert audit.stream_dropped == 1  # the away stream's queue held two already


async def test_the_exit_sends_what_waits_and_does_not_wait_for_a_stream_that_is_away() -> None:
    away, up = Stream("away", up=False), Stream("up")
    store = MemoryAudit()
    audit = Audit(store, sinks=[away, up], backoff=Backoff(first_s=30, cap_s=30), drain_s=30)
    async with audit:
        for n in range(3):
            audit.record(entry(n))  # queued: some are stored and streamed only on the way out
        started = time.monotonic()
    assert time.monotonic() - started < 5
    assert len(store.stored) == 3
    assert [record_id for _, _, record_id in await taken(up, 3)] == ["audit-1", "audit-2", "audit-3"]
    assert away.taken.empty()

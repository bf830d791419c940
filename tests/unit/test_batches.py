"""The batch writer of events and audit records: a write cut off by shutdown is finished and stored once, what is
left is stored once more, a store that stays away is reported, and a full queue refuses at once.

The store here is a stand-in (a list behind an append that the test holds or fails): the writer's own logic is
under test; the real stores are in the contract suites."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hub.batches import BatchWriter
from hub.errors import StoreUnavailable
from hub.logutil import RateLimitedLog
from hub.retry import Backoff

pytestmark = pytest.mark.timeout(10)


class HeldStore:
    """Stores batches in a list; while ``held`` is clear an append waits in the middle; ``away`` fails it."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.held = asyncio.Event()
        self.held.set()
        self.started = asyncio.Event()
        self.away = False

    async def append(self, batch: list[int]) -> list[int]:
        # Like the SQLite store's writer thread: cancelling the caller does not stop a write that has begun.
        return await asyncio.shield(self._write(batch))

    async def _write(self, batch: list[int]) -> list[int]:
        self.started.set()
        await self.held.wait()
        if self.away:
            raise StoreUnavailable("away")
        self.rows.extend(batch)
        return list(batch)


def writer(store: HeldStore, told: list[int], queue_size: int = 100) -> BatchWriter[int, int]:
    log = RateLimitedLog(logging.getLogger(__name__))
    return BatchWriter(
        store.append, told.extend, log, what="item(s)", queue_size=queue_size, backoff=Backoff(0.01, 0.02)
    )


async def test_a_write_cut_off_by_shutdown_is_finished_and_stored_once() -> None:
    store, told = HeldStore(), []
    batches = writer(store, told)
    store.held.clear()
    batches.put(1)
    task = asyncio.create_task(batches.run())
    await store.started.wait()
    batches.put(2)  # queued behind the write in progress
    task.cancel()
    store.held.set()
    assert await batches.close() == 0
    assert store.rows == [1, 2] and told == [1, 2]


async def test_a_store_away_at_shutdown_reports_what_is_lost() -> None:
    store, told = HeldStore(), []
    batches = writer(store, told)
    store.away = True
    batches.put(1)
    task = asyncio.create_task(batches.run())
    await store.started.wait()
    task.cancel()
    batches.put(2)
    assert await batches.close() == 2
    assert store.rows == [] and told == []


async def test_a_full_queue_refuses_at_once() -> None:
    batches = writer(HeldStore(), [], queue_size=2)
    assert batches.put(1) and batches.put(2)
    assert not batches.put(3)

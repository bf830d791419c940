"""What the MongoDB store does without transactions: processes writing at once each get outbox positions of their
own, points written twice by racing writers count once, small buckets merge; and its write path by ``_id``: the
series' ``top`` that spares the duplicate lookup, outbox positions taken from a process's own last one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from contracts.telemetry import Reading
from hub.store.backend import Backend
from hub.store.factory import open_store
from hub.store.mongo.database import MongoDatabase
from hub.store.mongo.outbox import OUTBOX
from hub.store.mongo.telemetry import BUCKETS, LATEST, series_id
from hub.store.telemetry import AggFn, AggregateQuery, DeviceReadings, RangeQuery
from tests.contract.support import T0, with_devices
from tests.helpers.ferretdb import FerretDB

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def url(ferretdb: FerretDB) -> str:
    return f"{ferretdb.url}mongo_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def store(url: str) -> AsyncIterator[Backend]:
    backend = open_store(url)
    await backend.database.open()
    await with_devices(backend, "d1")
    yield backend
    await backend.database.close()


def _db(store: Backend) -> MongoDatabase:
    assert isinstance(store.database, MongoDatabase)
    return store.database


def _one(n: int, seq: int | None = None) -> list[DeviceReadings]:
    return [DeviceReadings("d1", "t1", T0 + n, [Reading("v", T0 + n, float(n), n if seq is None else seq)])]


async def test_points_stored_twice_by_racing_writers_count_once(store: Backend) -> None:
    await store.telemetry.write_points(_one(1) + _one(2))
    buckets = _db(store).collection(BUCKETS)
    # Two processes stored the same redelivery, each finding it not yet stored.
    copy = await buckets.find_one({}, {"_id": 0})
    assert copy is not None
    await buckets.insert_one(copy)
    assert await store.telemetry.query_range(RangeQuery("d1", "v")) == [(T0 + 1, 1.0), (T0 + 2, 2.0)]
    count = AggregateQuery(RangeQuery("d1", "v"), AggFn.COUNT, 1000)
    assert await store.telemetry.query_aggregate(count) == [(T0 // 1000 * 1000, 2.0)]


async def test_small_buckets_of_a_low_rate_series_are_merged(store: Backend) -> None:
    for n in range(300):
        await store.telemetry.write_points(_one(n), outbox=False)
    again = await store.telemetry.write_points(_one(7), outbox=False)
    assert (again.stored, again.duplicates) == (0, 1)
    buckets = await _db(store).collection(BUCKETS).count_documents({"device": "d1"})
    # Merged every 64 small writes: what is left is the last unmerged stretch and a few merged buckets.
    assert buckets <= 64 + 4, f"{buckets} buckets for 300 points"
    stored = await store.telemetry.query_range(RangeQuery("d1", "v", limit=1000))
    assert stored == [(T0 + n, float(n)) for n in range(300)]


async def test_two_processes_writing_one_series_at_once_lose_nothing(store: Backend, url: str) -> None:
    other = open_store(url)
    await other.database.open()
    try:
        for minute in range(10):
            # Both create the series' latest value and the minute's rollups at the same moment.
            at = minute * 60_000
            await asyncio.gather(
                store.telemetry.write_points(_one(at, seq=2 * minute)),
                other.telemetry.write_points(_one(at + 1, seq=2 * minute + 1)),
            )
    finally:
        await other.database.close()
    # Each batch has a position of its own, and followers find them all, in order and with no gap.
    assert [batch.position for batch in await store.outbox.since(0, 100)] == list(range(1, 21))
    stored = await store.telemetry.query_range(RangeQuery("d1", "v"))
    assert [ts for ts, _ in stored] == [T0 + minute * 60_000 + i for minute in range(10) for i in (0, 1)]
    # Not checked here: the rollups' $inc and the latest value's $max, which FerretDB does not apply atomically
    # (two writers at once may lose one's update; MongoDB applies them atomically).


async def test_a_batch_of_many_devices_updates_every_latest_value_and_last_seen(store: Backend) -> None:
    # FerretDB stops answering a bulk that updates about a hundred existing documents: the store sends less.
    ids = [f"m{i}" for i in range(150)]
    await with_devices(store, *ids)
    for round_ in range(2):
        batch = [DeviceReadings(i, "t1", T0 + round_, [Reading("v", T0 + round_, float(round_), round_)]) for i in ids]
        result = await store.telemetry.write_points(batch, outbox=False)
        assert result.stored == len(ids)
    assert await store.telemetry.last_heard(ids, "v") == dict.fromkeys(ids, T0 + 1)
    assert await store.telemetry.last_heard(ids, None) == dict.fromkeys(ids, T0 + 1)


def _seqs(*seqs: int) -> list[DeviceReadings]:
    readings = [Reading("v", T0 + seq, float(seq), seq) for seq in seqs]
    return [DeviceReadings("d1", "t1", T0 + max(seqs), readings)]


async def _top(store: Backend) -> int:
    doc = await _db(store).collection(LATEST).find_one({"_id": series_id("d1", "v")})
    assert doc is not None
    return int(doc["top"])


async def test_top_follows_the_highest_ident_and_batches_below_it_are_checked(store: Backend) -> None:
    first = await store.telemetry.write_points(_seqs(10, 11, 12), outbox=False)
    assert (first.stored, await _top(store)) == (3, 12)
    # Older seqs (a redelivery with a gap filled) reach below top: the stored ones are found and dropped.
    again = await store.telemetry.write_points(_seqs(8, 9, 10, 11), outbox=False)
    assert (again.stored, again.duplicates, await _top(store)) == (2, 2, 12)
    newer = await store.telemetry.write_points(_seqs(13), outbox=False)
    assert (newer.stored, await _top(store)) == (1, 13)
    stored = await store.telemetry.query_range(RangeQuery("d1", "v"))
    assert stored == [(T0 + seq, float(seq)) for seq in range(8, 14)]


async def test_a_batch_above_top_is_not_looked_up(store: Backend) -> None:
    await store.telemetry.write_points(_seqs(1, 2), outbox=False)
    # With top lowered by hand, the same points look new: nothing looks among the buckets for them.
    await _db(store).collection(LATEST).update_one({"_id": series_id("d1", "v")}, {"$set": {"top": 0}})
    again = await store.telemetry.write_points(_seqs(1, 2), outbox=False)
    assert (again.stored, again.duplicates) == (2, 0)
    # Stored twice, counted once.
    assert await store.telemetry.query_range(RangeQuery("d1", "v")) == [(T0 + 1, 1.0), (T0 + 2, 2.0)]


async def test_a_process_whose_positions_were_trimmed_takes_one_above_them(store: Backend, url: str) -> None:
    other = open_store(url)
    await other.database.open()
    try:
        assert (await store.telemetry.write_points(_seqs(1))).position == 1
        assert (await other.telemetry.write_points(_seqs(2))).position == 2
        # Every batch trimmed (no cursor holds them): position 2, next to the first process's own, is free again.
        assert await store.outbox.trim(older_than=2**62, cursors_idle_since=0) == 2
        assert await _db(store).collection(OUTBOX).count_documents({}) == 0
        third = await store.telemetry.write_points(_seqs(3))
    finally:
        await other.database.close()
    # Position 2 was passed by the trim: the batch goes above it, and nothing stays at 2.
    assert third.position == 3
    assert [batch.position for batch in await store.outbox.since(0, 10)] == [3]

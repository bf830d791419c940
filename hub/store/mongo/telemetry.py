"""Telemetry of the MongoDB store: readings in buckets per series and write, a document per series, last seen.

A bucket document holds the points one write brought to one series (device and sensor key), packed by
:mod:`hub.store.columns` as SQLite packs its chunks, with the time and ident ranges the queries select on
(indexes in hub/store/mongo/schema.py). Small buckets of low-rate series are merged as in SQLite
(:class:`hub.store.columns.SmallChunks`). A series document (``telemetry_latest``, ``_id`` device/key) holds the
series' latest value and ``top``, an ident no stored point's exceeds.

Without transactions a write is several: the outbox entry first (hub/store/mongo/outbox.py says why), then
``top`` and the latest value, then the points, rollups and last seen. A write reads its series' documents in one
find by ``_id``; a series whose points all lie above ``top`` (ingest's rising seqs) holds none of them, and only
the others are looked up among the buckets. ``top`` is raised before the points are stored, so it stays above
them even when the writer dies in between. Several processes may write one series at once: a redelivery stored
while its first delivery is still being written may be stored twice, as may one after FerretDB, whose ``$max``
is not atomic, kept the lower of two writers' ``top``; and a merge cut short leaves points in two buckets.
Reads count every ident once (:class:`hub.store.columns.RangeScan`), the rollups of such a point count it twice.

FerretDB (the tests' server) uses its ``_id`` index only to find by one ``_id`` value: finds on other fields,
``$in`` and ranges of ``_id``, updates and deletes, cost it time in proportion to the collection; MongoDB uses
the indexes, and could bucket the raw points itself in a time-series collection, which FerretDB lacks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bson import Binary
from pymongo import ASCENDING, DESCENDING, UpdateOne

from contracts.telemetry import ReadingColumns, Value
from hub.errors import InvalidInput, StoreUnavailable
from hub.store.columns import LOWEST, Columns, RangeScan, SmallChunks, by_key, decode, encode
from hub.store.mongo import rollups
from hub.store.mongo.database import Document, MongoDatabase, translated
from hub.store.mongo.documents import create_or_update, update_all
from hub.store.mongo.outbox import OutboxAppender
from hub.store.rollups import Buckets, Plan, plan
from hub.store.telemetry import ROLLUP_SPANS, AggregateQuery, Message, RangeQuery, Summary, WriteResult

log = logging.getLogger(__name__)

BUCKETS, LATEST, DEVICES = "telemetry_buckets", "telemetry_latest", "devices"
#: Series whose duplicate check goes in one query (an ``$or`` of their ident ranges).
_SERIES_PER_QUERY = 200
#: Devices per query of a tenant's retention.
_IDS_PER_QUERY = 500

Series = tuple[str, str]  # (device id, key)


class MongoTelemetry:
    """:class:`hub.store.telemetry.TelemetryStore` on the ``telemetry_*`` collections and ``devices.last_seen``."""

    def __init__(self, db: MongoDatabase, *, use_rollups: bool = True) -> None:
        """``use_rollups`` off answers every aggregate from raw points (a baseline to measure rollups against)."""
        self._db = db
        self._use_rollups = use_rollups
        self._outbox = OutboxAppender(db)
        self._small: SmallChunks[Series] = SmallChunks()

    async def write_points(self, batch: Sequence[Message], *, outbox: bool = True) -> WriteResult:
        points = sum(len(m.readings) for m in batch)
        pending = by_series(batch)
        async with translated():
            position = await self._outbox.append(batch) if outbox else None
            tops = await self._tops(pending)
            stored = await self._unstored(pending, tops)
            await self._raise_series(pending, tops)
            if stored:
                await self._db.collection(BUCKETS).insert_many(bucket_documents(stored), ordered=False)
            await rollups.add(self._db, [(device, key, columns) for (device, key), columns in stored.items()])
            await self._raise_last_seen(batch)
        for series, columns in pending.items():
            self._small.note(series, len(columns))
        if self._small.due():
            # The write that makes series due waits for their merge (as ingest waits for SQLite's once); the
            # points are stored already, so a merge that fails is only put off.
            try:
                async with translated():
                    await self._merge_small()
            except StoreUnavailable as exc:
                log.warning("merging small telemetry buckets failed: %s", exc.message)
        count = sum(map(len, stored.values()))
        return WriteResult(stored=count, duplicates=points - count, position=position)

    async def _tops(self, pending: dict[Series, Columns]) -> dict[str, int]:
        """The ``top`` of each series of ``pending`` that has a document, by its ``_id``."""
        ids = [series_id(device, key) for device, key in pending]
        docs = await self._db.collection(LATEST).find({"_id": {"$in": ids}}, {"top": 1}).to_list()
        return {doc["_id"]: doc["top"] for doc in docs}

    async def _unstored(self, pending: dict[Series, Columns], tops: dict[str, int]) -> dict[Series, Columns]:
        """The points of ``pending`` that their series do not hold yet (series left with none are absent)."""
        ranges = [
            {"device": device, "key": key, "max_ident": {"$gte": min(c.idents)}, "min_ident": {"$lte": max(c.idents)}}
            for (device, key), c in pending.items()
            if min(c.idents) <= tops.get(series_id(device, key), LOWEST)
        ]
        held: dict[Series, set[int]] = {}
        # Only a redelivery, or points older than the series' newest, come here.
        for at in range(0, len(ranges), _SERIES_PER_QUERY):
            wanted = {"$or": ranges[at : at + _SERIES_PER_QUERY]}
            async for doc in self._db.collection(BUCKETS).find(wanted, {"device": 1, "key": 1, "data": 1}):
                held.setdefault((doc["device"], doc["key"]), set()).update(decode(doc["data"]).idents)
        fresh = {series: columns.without(held.get(series, set())) for series, columns in pending.items()}
        return {series: columns for series, columns in fresh.items() if len(columns)}

    async def _raise_series(self, pending: dict[Series, Columns], tops: dict[str, int]) -> None:
        """Raise each series' ``top`` to its batch's highest ident and its latest value to the batch's newest.

        ``$max`` on {ts, value} keeps the newer reading whichever process writes last (of equal times, the greater
        value in BSON order); atomic on MongoDB, not on FerretDB, where two writers at once may keep the older.
        """
        changes = []
        for (device, key), columns in pending.items():
            top, (ts, value) = max(columns.idents), columns.newest()
            doc = {"_id": series_id(device, key), "device": device, "key": key, "top": top}
            doc["last"] = {"ts": ts, "value": value}
            changes.append((doc, UpdateOne({"_id": doc["_id"]}, {"$max": {"top": top, "last": doc["last"]}})))
        await create_or_update(self._db.collection(LATEST), changes, tops.keys())

    async def _raise_last_seen(self, batch: Sequence[Message]) -> None:
        seen: dict[str, int] = {}
        for message in batch:
            seen[message.device_id] = max(message.received, seen.get(message.device_id, 0))
        # upsert=False: readings of a device deleted meanwhile do not bring it back.
        updates = [UpdateOne({"_id": device}, {"$max": {"last_seen": ts}}) for device, ts in seen.items()]
        await update_all(self._db.collection(DEVICES), updates)

    async def _merge_small(self) -> None:
        """Merge the small buckets of every series that is due, in time order.

        The series go in few queries, not one each: FerretDB reads the whole collection for every one. The merged
        buckets are written before the small ones go: a merge cut short leaves points twice (which reads count
        once, and the next merge joins), never none.
        """
        buckets = self._db.collection(BUCKETS)
        small_of = SmallChunks.SMALL
        due = [{"device": device, "key": key, "n": {"$lt": small_of}} for device, key in self._small.take_due()]
        for at in range(0, len(due), _SERIES_PER_QUERY):
            small: dict[Series, list[Document]] = {}
            wanted = {"$or": due[at : at + _SERIES_PER_QUERY]}
            async for doc in buckets.find(wanted, {"device": 1, "key": 1, "data": 1}).sort("min_ts", ASCENDING):
                picked = small.setdefault((doc["device"], doc["key"]), [])
                if len(picked) < SmallChunks.MERGE_AT_MOST:
                    picked.append(doc)
            merging = {series: picked for series, picked in small.items() if len(picked) > 1}
            if not merging:
                continue
            merged = {
                series: Columns.concat([decode(doc["data"]) for doc in picked]).in_order().without(set())
                for series, picked in merging.items()
            }
            await buckets.insert_many(bucket_documents(merged), ordered=False)
            await buckets.delete_many({"_id": {"$in": [doc["_id"] for picked in merging.values() for doc in picked]}})

    async def _scan(self, device: str, key: str, scan: RangeScan, *, descending: bool = False) -> None:
        """Feed ``scan`` the buckets of a series that meet its range, until it is complete."""
        wanted = {"device": device, "key": key, "max_ts": {"$gte": scan.start}, "min_ts": {"$lt": scan.end}}
        order = ("max_ts", DESCENDING) if descending else ("min_ts", ASCENDING)
        cursor = self._db.collection(BUCKETS).find(wanted, {"min_ts": 1, "max_ts": 1, "data": 1}).sort([order])
        async with cursor:
            async for doc in cursor:
                if scan.complete(doc["min_ts"], doc["max_ts"]):
                    break
                scan.add(decode(doc["data"]))

    async def query_range(self, query: RangeQuery) -> list[tuple[int, Value]]:
        return [(ts, value) for ts, _, value in await self.identified_points(query)]

    async def rollups_until(self, device_id: str, key: str, span_ms: int, end: int) -> list[tuple[int, Summary]]:
        async with translated():
            return await rollups.read(self._db, device_id, key, Plan(span_ms, None, end // span_ms * span_ms))

    async def identified_points(self, query: RangeQuery) -> list[tuple[int, int, Value]]:
        scan = RangeScan(query.start, query.end, descending=query.descending, enough=query.limit)
        async with translated():
            await self._scan(query.device_id, query.key, scan, descending=query.descending)
        return scan.identified(query.limit)

    async def query_aggregate(self, query: AggregateQuery) -> list[tuple[int, float]]:
        wanted = query.range
        buckets = Buckets(query.interval_ms)
        how = plan(wanted.start, wanted.end, query.interval_ms) if self._use_rollups else None
        async with translated():
            if how is None:
                await self._add_raw(wanted, wanted.start, wanted.end, buckets)
            else:
                for start, summary in await rollups.read(self._db, wanted.device_id, wanted.key, how):
                    buckets.add_summary(start, summary)
                if how.first is not None:
                    await self._add_raw(wanted, wanted.start, how.first, buckets)
                if how.last is not None:
                    await self._add_raw(wanted, how.last, wanted.end, buckets)
        return buckets.result(query.fn, descending=wanted.descending, limit=wanted.limit)

    async def _add_raw(self, series: RangeQuery, start: int | None, end: int | None, buckets: Buckets) -> None:
        """Add the raw points of ``series`` in ``[start, end)`` to ``buckets``."""
        scan = RangeScan(start, end, descending=False, enough=None)
        await self._scan(series.device_id, series.key, scan)
        buckets.add_points(*scan.numbers())

    async def latest(self, device_id: str) -> dict[str, tuple[int, Value]]:
        async with translated():
            docs = await self._db.collection(LATEST).find({"device": device_id}).sort("key", ASCENDING).to_list()
        return {doc["key"]: (doc["last"]["ts"], doc["last"]["value"]) for doc in docs}

    async def last_heard(self, device_ids: Sequence[str], key: str | None) -> dict[str, int]:
        if not device_ids:
            return {}
        ids = list(device_ids)
        async with translated():
            if key is None:
                wanted = {"_id": {"$in": ids}, "last_seen": {"$ne": None}}
                docs = await self._db.collection(DEVICES).find(wanted, {"last_seen": 1}).to_list()
                return {doc["_id"]: doc["last_seen"] for doc in docs}
            wanted = {"_id": {"$in": [series_id(device, key) for device in ids]}}
            docs = await self._db.collection(LATEST).find(wanted, {"device": 1, "last.ts": 1}).to_list()
        return {doc["device"]: doc["last"]["ts"] for doc in docs}

    async def drop_raw(self, tenant: str, before: int) -> int:
        buckets = self._db.collection(BUCKETS)
        removed = 0
        async with translated():
            devices = await self._db.collection(DEVICES).find({"tenant": tenant}, {"_id": 1}).to_list()
            for at in range(0, len(devices), _IDS_PER_QUERY):
                ids = [doc["_id"] for doc in devices[at : at + _IDS_PER_QUERY]]
                old = await buckets.find({"device": {"$in": ids}, "max_ts": {"$lt": before}}, {"n": 1}).to_list()
                if old:
                    await buckets.delete_many({"_id": {"$in": [doc["_id"] for doc in old]}})
                    removed += sum(doc["n"] for doc in old)
        return removed

    async def drop_rollups(self, span_ms: int, before: int) -> int:
        if span_ms not in ROLLUP_SPANS:
            raise InvalidInput(f"no rollups of {span_ms} ms; spans are {', '.join(map(str, ROLLUP_SPANS))}")
        async with translated():
            return await rollups.drop(self._db, span_ms, before)


def series_id(device: str, key: str) -> str:
    """The ``_id`` of a series' document (a sensor key holds no ``/``, so it splits from the right)."""
    return f"{device}/{key}"


def by_series(batch: Sequence[Message]) -> dict[Series, Columns]:
    """The batch's readings per series as one chunk each, in arrival order."""
    parts: dict[Series, list[ReadingColumns]] = {}
    for message in batch:
        for key, readings in by_key(ReadingColumns.of(message.readings)):
            parts.setdefault((message.device_id, key), []).append(readings)
    return {series: Columns.of(ReadingColumns.joined(found)) for series, found in parts.items()}


def bucket_documents(points: dict[Series, Columns]) -> list[Document]:
    """The bucket documents holding the points of each series (at most :data:`~hub.store.columns.MAX_POINTS` each)."""
    return [_bucket(device, key, part) for (device, key), columns in points.items() for part in columns.parts()]


def _bucket(device: str, key: str, columns: Columns) -> Document:
    return {
        "device": device,
        "key": key,
        "min_ts": min(columns.ts),
        "max_ts": max(columns.ts),
        "min_ident": min(columns.idents),
        "max_ident": max(columns.idents),
        "n": len(columns),
        "data": Binary(encode(columns)),
    }


async def delete_device_data(db: MongoDatabase, device_id: str) -> None:
    """Remove every series of a device with its points, rollups and latest values (the registry's device delete)."""
    async with translated():
        for collection in (BUCKETS, LATEST):
            await db.collection(collection).delete_many({"device": device_id})
        await rollups.delete_device(db, device_id)

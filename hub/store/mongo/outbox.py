"""The outbox of the MongoDB store (:class:`hub.store.outbox.Outbox`): a document per stored batch, ``_id`` its
position.

Without multi-document transactions (FerretDB has none), a batch's outbox entry and its points are separate
writes. The entry goes first: a batch that was stored is always forwarded, and a writer that dies between
the two leaves a batch forwarded but not stored, which ingest redelivers (the streams are at least once).

A position is taken by inserting the entry under the process's last position plus one (the newest, looked up,
when it starts); a writer that finds it taken (a duplicate key) tries the next, and after a few the newest plus
one. As position p+1 is only tried once p is visible, every process sees the positions in order and with no
gaps (but those trimmed), so a follower never steps over a batch still being written. The trim mark, read after
every insert, says whether a trim went past the position meanwhile (the entries there trimmed while the process
was idle): then the entry goes again above the newest. A counter document would hand out positions in one step,
but FerretDB's ``$inc`` is not atomic under concurrent writers: it gave two writers one number; and looking up
the newest position for every batch sorts the collection, which FerretDB does by reading all of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from bson import Binary
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from hub.clock import now_ms
from hub.store.batches import decode, encode
from hub.store.mongo.database import MongoDatabase, translated
from hub.store.outbox import StoredBatch
from hub.store.telemetry import Message

log = logging.getLogger(__name__)

OUTBOX, MARKS, CURSORS, FOLLOWERS = "outbox", "outbox_marks", "outbox_cursors", "outbox_followers"
#: The newest position trimmed: positions go on from there once every batch was trimmed.
_TRIMMED = {"_id": "trimmed"}


async def _head(db: MongoDatabase) -> int:
    # The batches first, then the mark: trim raises the mark before it deletes.
    newest = await db.collection(OUTBOX).find_one({}, {"_id": 1}, sort=[("_id", DESCENDING)])
    mark = await db.collection(MARKS).find_one(_TRIMMED)
    return max(0 if newest is None else int(newest["_id"]), 0 if mark is None else int(mark["position"]))


class OutboxAppender:
    """Appends batches to the outbox for one process's telemetry writes."""

    #: Positions found taken, one after the other, before the newest is looked up instead.
    STEPS = 8

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db
        # The process's own writes take positions one at a time instead of racing each other for them.
        self._lock = asyncio.Lock()
        self._last: int | None = None  # the position this process wrote last

    async def append(self, batch: Sequence[Message]) -> int:
        """Write a batch to the outbox under the next position (before its points: see the module docstring)."""
        data = Binary(encode(batch))
        outbox = self._db.collection(OUTBOX)
        async with self._lock:
            position, steps = self._last, 0
            while True:
                if position is None or steps == self.STEPS:
                    position, steps = await _head(self._db), 0
                position += 1
                try:
                    await outbox.insert_one({"_id": position, "created": now_ms(), "data": data})
                except DuplicateKeyError:
                    steps += 1
                    continue  # another process took it: try the next
                if await self._trimmed(position):
                    # Followers may have passed this position already: take one above the newest instead.
                    await outbox.delete_one({"_id": position})
                    position = None
                    continue
                self._last = position
                return position

    async def _trimmed(self, position: int) -> bool:
        mark = await self._db.collection(MARKS).find_one(_TRIMMED)
        return mark is not None and int(mark["position"]) >= position


class MongoOutbox:
    """:class:`hub.store.outbox.Outbox` on the ``outbox`` collection, its trim mark, cursors and followers."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    async def head(self) -> int:
        async with translated():
            return await _head(self._db)

    async def since(self, position: int, limit: int) -> list[StoredBatch]:
        async with translated():
            found = self._db.collection(OUTBOX).find({"_id": {"$gt": position}}).sort("_id", ASCENDING).limit(limit)
            docs = await found.to_list()
        return [StoredBatch(doc["_id"], doc["created"], decode(doc["data"])) for doc in docs]

    async def oldest_after(self, position: int) -> int | None:
        async with translated():
            doc = await self._db.collection(OUTBOX).find_one(
                {"_id": {"$gt": position}}, {"created": 1}, sort=[("_id", ASCENDING)]
            )
        return None if doc is None else int(doc["created"])

    async def get_cursor(self, name: str) -> int | None:
        async with translated():
            doc = await self._db.collection(CURSORS).find_one({"_id": name})
        return None if doc is None else int(doc["position"])

    async def set_cursor(self, name: str, position: int) -> None:
        async with translated():
            await self._db.collection(CURSORS).update_one(
                {"_id": name}, {"$set": {"position": position, "updated": now_ms()}}, upsert=True
            )

    async def trim(self, older_than: int, cursors_idle_since: int) -> int:
        async with translated():
            cursors = self._db.collection(CURSORS)
            idle = {"updated": {"$lt": cursors_idle_since}}
            for doc in await cursors.find(idle, {"_id": 1}).to_list():
                log.warning(
                    "dropped the outbox cursor of %s: no process has forwarded that stream for long", doc["_id"]
                )
            await cursors.delete_many(idle)
            await self._db.collection(FOLLOWERS).delete_many({"until": {"$lt": now_ms()}})
            return await self._trim_batches(older_than)

    async def _trim_batches(self, older_than: int) -> int:
        passed = await self._db.collection(CURSORS).find_one({}, {"position": 1}, sort=[("position", ASCENDING)])
        done: dict[str, Any] = {"created": {"$lt": older_than}}
        if passed is not None:
            done["_id"] = {"$lte": passed["position"]}
        outbox = self._db.collection(OUTBOX)
        last = await outbox.find_one(done, {"_id": 1}, sort=[("_id", DESCENDING)])
        if last is None:
            return 0
        # The mark first: a writer that no longer finds the newest batch must find its position here.
        await self._db.collection(MARKS).update_one(_TRIMMED, {"$max": {"position": last["_id"]}}, upsert=True)
        return (await outbox.delete_many(done)).deleted_count

    async def lease(self, follower: str, until: int) -> None:
        async with translated():
            await self._db.collection(FOLLOWERS).update_one({"_id": follower}, {"$set": {"until": until}}, upsert=True)

    async def release(self, follower: str) -> None:
        async with translated():
            await self._db.collection(FOLLOWERS).delete_one({"_id": follower})

    async def followed(self, now: int) -> bool:
        async with translated():
            if await self._db.collection(CURSORS).find_one({}, {"_id": 1}) is not None:
                return True
            return await self._db.collection(FOLLOWERS).find_one({"until": {"$gt": now}}, {"_id": 1}) is not None

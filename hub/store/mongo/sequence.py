"""Ids that rise in store order across hub processes, for collections read as "everything after id X".

A counter document (``$inc``) cannot hand them out here: FerretDB, the server the tests run, applies an update's
filter and its change in two steps, so two writers can get one id (FerretDB issue 3040: "SQLite handler also does
not handle update in a transaction"). Inserting a document whose ``_id`` is taken fails atomically on FerretDB and
on MongoDB alike, so a writer claims ids by inserting: its documents get the ids after the newest one, in order,
and when another writer inserted one of them first, the rest are numbered again after the new newest
(:func:`insert_numbered`). The newest id is read from a hint kept beside (FerretDB sorts a whole collection to
find it), and from the collection itself only when the hint proves behind.

What readers get: the id of every inserted document is one more than an id that was already visible, so ids
become visible in rising order, with no gap that a slow writer could fill later. A follower that read up to X
and asks for ids above X misses nothing, whichever process wrote, and needs no wait or clock. Ids are never given
twice: removing documents records the newest id first (:func:`retire`, :func:`delete_numbered`), and new ids
start above it. The one exception is a writer that stalls from before id p was first inserted until after p was
retired and removed: its insert of p then succeeds, late (a stall across a whole retention cycle).
"""

from __future__ import annotations

import contextlib

from pymongo import DESCENDING
from pymongo.errors import BulkWriteError, DuplicateKeyError

from hub.errors import StoreUnavailable
from hub.store.mongo.database import Document, MongoDatabase, translated

#: Per numbered collection: ``_id`` the collection's name, ``newest`` a hint of its newest id; and its retired
#: ids, one document per mark, ``_id`` ``"<collection>:<newest retired id, 20 digits>"``.
SEQUENCES = "_sequences"
_DIGITS = 20
_DUPLICATE_KEY = 11000
#: Rounds of renumbering before a writer gives up (each round, at least one competing writer succeeds).
_ROUNDS = 100


async def insert_numbered(db: MongoDatabase, collection: str, docs: list[Document]) -> None:
    """Insert ``docs`` into ``collection`` with rising ids after the newest, in their order (each gets its
    ``_id``)."""
    pending = docs
    newest, retired = await _known(db, collection)
    for _ in range(_ROUNDS):
        first = max(newest, retired) + 1
        for i, doc in enumerate(pending):
            doc["_id"] = first + i
        async with translated():
            try:
                await db.collection(collection).insert_many(pending, ordered=True)
            except BulkWriteError as exc:
                if any(error["code"] != _DUPLICATE_KEY for error in exc.details["writeErrors"]):
                    raise
                pending = pending[exc.details["nInserted"] :]
            else:
                # Only a hint: FerretDB may lose a concurrent raise, or refuse a concurrent first upsert; a writer
                # that finds its guess taken reads the collection's newest id instead.
                with contextlib.suppress(DuplicateKeyError):
                    await db.collection(SEQUENCES).update_one(
                        {"_id": collection}, {"$max": {"newest": first + len(pending) - 1}}, upsert=True
                    )
                return
        # Another writer took the next id, or the hint was behind: number the rest after the newest there is.
        newest = await newest_id(db, collection)
        retired = (await _known(db, collection))[1]
    raise StoreUnavailable(f"{collection}: too many writers competing for ids, try again")


async def insert_kept(db: MongoDatabase, collection: str, docs: list[Document]) -> None:
    """Insert ``docs``, which keep the ``_id`` another store gave them (a copy: ``fieldhub store migrate``), skipping
    those ``collection`` holds already, and raise the hint so that new ids follow them.

    Only while no hub writes ``collection``: a writer numbering meanwhile could take an id a copied document has.
    """
    if not docs:
        return
    async with translated():
        try:
            await db.collection(collection).insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            if any(error["code"] != _DUPLICATE_KEY for error in exc.details["writeErrors"]):
                raise
        with contextlib.suppress(DuplicateKeyError):
            await db.collection(SEQUENCES).update_one(
                {"_id": collection}, {"$max": {"newest": max(int(doc["_id"]) for doc in docs)}}, upsert=True
            )


async def retire(db: MongoDatabase, collection: str, newest: int) -> None:
    """Record that ids up to ``newest`` of ``collection`` may be removed: none of them is given again."""
    marks = db.collection(SEQUENCES)
    mark = _mark(collection, newest)
    async with translated():
        with contextlib.suppress(DuplicateKeyError):  # retired already
            await marks.insert_one({"_id": mark})
        # Older marks are below this one: removing them never lowers the newest.
        await marks.delete_many({"_id": {"$gte": f"{collection}:", "$lt": mark}})


async def delete_numbered(db: MongoDatabase, collection: str, found: Document) -> int:
    """Remove the documents of ``collection`` that match ``found``, retiring their ids first; how many went. One
    stored meanwhile stays (its id is not retired yet)."""
    newest = await newest_id(db, collection)
    await retire(db, collection, newest)
    async with translated():
        removed = await db.collection(collection).delete_many({"$and": [found, {"_id": {"$lte": newest}}]})
    return removed.deleted_count


async def newest_id(db: MongoDatabase, collection: str) -> int:
    """The newest id of a document in ``collection`` (0 when there is none)."""
    async with translated():
        top = await db.collection(collection).find({}, {"_id": 1}).sort("_id", DESCENDING).limit(1).to_list()
    return int(top[0]["_id"]) if top else 0


async def _known(db: MongoDatabase, collection: str) -> tuple[int, int]:
    """The newest id of ``collection`` as its hint says (maybe behind), and the newest retired id."""
    prefix = f"{collection}:"
    async with translated():
        found = (
            await db.collection(SEQUENCES)
            .find({"$or": [{"_id": collection}, {"_id": {"$gte": prefix, "$lt": prefix + "~"}}]})
            .to_list()
        )
    hint = max((int(doc["newest"]) for doc in found if doc["_id"] == collection), default=0)
    retired = max((int(doc["_id"][len(prefix) :]) for doc in found if doc["_id"] != collection), default=0)
    return hint, retired


def _mark(collection: str, ident: int) -> str:
    return f"{collection}:{ident:0{_DIGITS}d}"

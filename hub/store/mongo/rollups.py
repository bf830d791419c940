"""Rollups of the MongoDB store: a document per series and span start, in a collection per span (rollup_collections.py).

Each write adds the summaries (:mod:`hub.store.rollups`) of the points it stored: it inserts the documents (``_id``
device/key/start) holding its summaries, and where one exists already adds to it with ``$inc`` (n, nums, sum)
and ``$min``/``$max`` (both absent while the span holds no number), an update by ``_id``. MongoDB applies those
atomically; FerretDB does not, so there two processes adding to one rollup at the same moment may lose one's
addition, and each update costs it time in proportion to the collection (it finds the document without the
``_id`` index). Without transactions the rollups are written after the points: a writer that dies in between
leaves those points out of the rollups.

A collection per span, not one for all, because FerretDB scans the whole collection for any query but a find by one
``_id``: an hourly read scans only the hourly rollups, not the sixty times as many minute ones beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, UpdateOne

from hub.store.columns import HIGHEST, LOWEST, Columns
from hub.store.mongo.database import MongoDatabase, translated
from hub.store.mongo.documents import create_or_update
from hub.store.mongo.rollup_collections import ROLLUP_COLLECTIONS
from hub.store.rollups import Plan, summarize, summarize_spans
from hub.store.telemetry import Summary


async def add(db: MongoDatabase, stored: Sequence[tuple[str, str, Columns]]) -> None:
    """Add the points just stored, ``(device, key, columns)``, to the rollups of every span."""
    for span, name in ROLLUP_COLLECTIONS.items():
        changes = []
        for device, key, columns in stored:
            for start, summary in summarize(columns.ts, columns.nums, span):
                doc = _document(device, key, start, summary)
                change: dict[str, Any] = {"$inc": {"n": summary.n, "nums": summary.nums, "sum": summary.sum}}
                if summary.nums:
                    change["$min"] = {"min": summary.min}
                    change["$max"] = {"max": summary.max}
                changes.append((doc, UpdateOne({"_id": doc["_id"]}, change)))
        await create_or_update(db.collection(name), changes)


def _document(device: str, key: str, start: int, summary: Summary) -> dict[str, Any]:
    """The rollup of a series' span starting at ``start`` holding ``summary``."""
    doc = {"_id": f"{device}/{key}/{start}", "device": device, "key": key, "start": start}
    doc |= {"n": summary.n, "nums": summary.nums, "sum": summary.sum}
    if summary.nums:
        doc |= {"min": summary.min, "max": summary.max}
    return doc


async def rebuild(db: MongoDatabase, device: str, key: str, points: Columns) -> None:
    """Set a series' rollups in the spans ``points`` fall in to those of ``points``: every point the series holds in
    the largest spans they touch. Repairs rollups left short by a writer that died between storing points and adding
    them up (written again, the points are found stored and added to nothing); only while no one else writes the
    series (``fieldhub store migrate``)."""
    if not len(points):
        return
    first, last = min(points.ts), max(points.ts)
    docs: dict[int, list[dict[str, Any]]] = {span: [] for span in ROLLUP_COLLECTIONS}
    for span, start, summary in summarize_spans(points.ts, points.nums):
        docs[span].append(_document(device, key, start, summary))
    async with translated():
        for span, name in ROLLUP_COLLECTIONS.items():
            where = {"device": device, "key": key, "start": {"$gte": first // span * span, "$lte": last // span * span}}
            await db.collection(name).delete_many(where)
            await db.collection(name).insert_many(docs[span])


async def replace(db: MongoDatabase, device: str, key: str, span: int, rows: Sequence[tuple[int, Summary]]) -> None:
    """Set a series' rollups of ``span`` starting from the first of ``rows`` to the last to ``rows``, ``(start,
    summary)`` as another store holds them: with those of times whose raw points retention removed there
    (``fieldhub store migrate``, once the raw points of those times are copied)."""
    if not rows:
        return
    where = {"device": device, "key": key, "start": {"$gte": rows[0][0], "$lte": rows[-1][0]}}
    async with translated():
        await db.collection(ROLLUP_COLLECTIONS[span]).delete_many(where)
        await db.collection(ROLLUP_COLLECTIONS[span]).insert_many(
            [_document(device, key, start, summary) for start, summary in rows]
        )


async def read(db: MongoDatabase, device: str, key: str, how: Plan) -> list[tuple[int, Summary]]:
    """The rollups of a series in ``how``'s span whose span starts in ``[first, last)`` (``None``: unbounded)."""
    where = {
        "device": device,
        "key": key,
        "start": {"$gte": LOWEST if how.first is None else how.first, "$lt": HIGHEST if how.last is None else how.last},
    }
    docs = await db.collection(ROLLUP_COLLECTIONS[how.span]).find(where).sort("start", ASCENDING).to_list()
    return [(doc["start"], Summary(doc["n"], doc["nums"], doc["sum"], doc.get("min"), doc.get("max"))) for doc in docs]


async def drop(db: MongoDatabase, span: int, before: int) -> int:
    """Delete the rollups of ``span`` whose span starts before ``before``; how many went."""
    result = await db.collection(ROLLUP_COLLECTIONS[span]).delete_many({"start": {"$lt": before}})
    return result.deleted_count


async def delete_device(db: MongoDatabase, device: str) -> None:
    """Delete every rollup of a device's series (the registry's device delete)."""
    for name in ROLLUP_COLLECTIONS.values():
        await db.collection(name).delete_many({"device": device})

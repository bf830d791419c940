"""Creating and updating documents that several processes update at once, in ways MongoDB and FerretDB both take."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from hub.store.mongo.database import Document

DUPLICATE_KEY = 11000


async def create_or_update(
    collection: AsyncCollection[Document], changes: Sequence[tuple[Document, UpdateOne]], held: Collection[Any] = ()
) -> None:
    """Insert each ``(document, update)``'s document (with its ``_id``), or apply its update where the document
    exists: those whose ``_id`` is in ``held``, and those whose insert meets a duplicate key.

    An upsert that loses the race to create a document is retried by MongoDB but fails on FerretDB (a bulk of
    them even in a reply PyMongo cannot read), so the insert and the update are apart: a writer that loses the
    race only meets a duplicate key, and then updates the document the other one created. Inserting first, not
    looking the documents up, costs FerretDB no scan: it finds by ``_id`` only for a single value, not ``$in``.
    """
    fresh = [doc for doc, _ in changes if doc["_id"] not in held]
    taken = set(held)
    if fresh:
        try:
            await collection.insert_many(fresh, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details["writeErrors"]
            if any(error["code"] != DUPLICATE_KEY for error in errors):
                raise
            taken.update(fresh[error["index"]]["_id"] for error in errors)
    await update_all(collection, [update for doc, update in changes if doc["_id"] in taken])


#: Updates per bulk write: FerretDB 1.24 stops answering a bulk that updates about a hundred existing documents.
UPDATES_PER_BULK = 64


async def update_all(collection: AsyncCollection[Document], updates: Sequence[UpdateOne]) -> None:
    """Apply ``updates`` (unordered), in bulks FerretDB answers."""
    for at in range(0, len(updates), UPDATES_PER_BULK):
        await collection.bulk_write(updates[at : at + UPDATES_PER_BULK], ordered=False)

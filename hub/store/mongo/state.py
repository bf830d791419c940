"""Device twins of the MongoDB store (:class:`hub.store.state.StateStore`).

``state``: one document per device and side, ``_id`` ``device/kind`` (an identifier holds no ``/``), with
``device_id`` and ``kind`` beside it for the listings. The document itself is kept as JSON text, as SQLite keeps
it: a device may send keys holding ``.`` or starting with ``$``, which FerretDB refuses in a field name.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import orjson
from pymongo import ReturnDocument

from hub.store.mongo.database import Document, MongoDatabase, translated
from hub.store.mongo.upserts import upsert
from hub.store.state import StateKind, StateRecord

STATE = "state"


def _record(doc: Document) -> StateRecord:
    return StateRecord(orjson.loads(doc["doc"]), doc["version"], doc["updated"])


class MongoState:
    """Device twins in ``state``."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    async def put_state(self, device_id: str, kind: StateKind, doc: dict[str, Any], ts: int) -> StateRecord:
        fields = {"device_id": device_id, "kind": kind.value, "doc": orjson.dumps(doc).decode(), "updated": ts}
        # One upsert: the version starts at 1 ($inc of a missing field) and goes up by one with each write (on
        # MongoDB; FerretDB applies an update as a read and a write, so two writes at once may get one version).
        write = partial(
            self._db.collection(STATE).find_one_and_update,
            {"_id": f"{device_id}/{kind.value}"},
            {"$set": fields, "$inc": {"version": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        async with translated():
            stored = await upsert(write)
        assert stored is not None  # an upsert answering the document after it always has one
        return StateRecord(doc, int(stored["version"]), ts)

    async def get_state(self, device_id: str, kind: StateKind) -> StateRecord | None:
        async with translated():
            found = await self._db.collection(STATE).find_one({"_id": f"{device_id}/{kind.value}"})
        return None if found is None else _record(found)

    async def list_states(self, kind: StateKind) -> list[tuple[str, StateRecord]]:
        async with translated():  # state_by_kind: one kind's documents by device
            docs = await self._db.collection(STATE).find({"kind": kind.value}).sort("device_id", 1).to_list()
        return [(doc["device_id"], _record(doc)) for doc in docs]

"""Heartbeats of the MongoDB store (:class:`hub.store.nodes.NodeStore`).

``heartbeats``: ``_id`` is the node id, ``doc`` the latest heartbeat as JSON text (a node may send keys that
FerretDB refuses in a field name), ``received`` when the hub received it (epoch ms).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import orjson

from hub.store.mongo.database import MongoDatabase, translated
from hub.store.mongo.upserts import upsert
from hub.store.nodes import HeartbeatRecord

HEARTBEATS = "heartbeats"


class MongoNodes:
    """The latest heartbeat per node in ``heartbeats``."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    async def put_heartbeat(self, node_id: str, doc: dict[str, Any], received: int) -> None:
        write = partial(
            self._db.collection(HEARTBEATS).replace_one,
            {"_id": node_id},
            {"doc": orjson.dumps(doc).decode(), "received": received},
            upsert=True,
        )
        async with translated():
            await upsert(write)

    async def get_heartbeat(self, node_id: str) -> HeartbeatRecord | None:
        async with translated():
            found = await self._db.collection(HEARTBEATS).find_one({"_id": node_id})
        return None if found is None else HeartbeatRecord(orjson.loads(found["doc"]), found["received"])

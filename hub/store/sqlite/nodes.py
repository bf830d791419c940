"""Node statements of the SQLite store: heartbeats (:class:`hub.store.nodes.NodeStore`)."""

from __future__ import annotations

from typing import Any

import orjson

from hub.store.nodes import HeartbeatRecord
from hub.store.sqlite.database import SqliteDatabase


class SqliteNodes:
    """The latest heartbeat per node in ``heartbeats``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def put_heartbeat(self, node_id: str, doc: dict[str, Any], received: int) -> None:
        body = orjson.dumps(doc).decode()
        await self._db.writer.run(
            lambda c: c.execute(
                "INSERT INTO heartbeats(node_id, doc, received) VALUES (?, ?, ?) "
                "ON CONFLICT(node_id) DO UPDATE SET doc = excluded.doc, received = excluded.received",
                (node_id, body, received),
            )
        )

    async def get_heartbeat(self, node_id: str) -> HeartbeatRecord | None:
        row = await self._db.readers.run(
            lambda c: c.execute("SELECT doc, received FROM heartbeats WHERE node_id = ?", (node_id,)).fetchone()
        )
        return None if row is None else HeartbeatRecord(orjson.loads(row[0]), row[1])

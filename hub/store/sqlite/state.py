"""State statements of the SQLite store: desired and reported documents (:class:`hub.store.state.StateStore`)."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from hub.store.sqlite.database import SqliteDatabase
from hub.store.state import StateKind, StateRecord


class SqliteState:
    """Device twins in the ``state`` table, one row per device and side."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def put_state(self, device_id: str, kind: StateKind, doc: dict[str, Any], ts: int) -> StateRecord:
        body = orjson.dumps(doc).decode()

        def run(conn: sqlite3.Connection) -> StateRecord:
            row = conn.execute(
                "INSERT INTO state(device_id, kind, doc, version, updated) VALUES (?, ?, ?, 1, ?) "
                "ON CONFLICT(device_id, kind) DO UPDATE SET doc = excluded.doc, version = state.version + 1, "
                "updated = excluded.updated RETURNING version",
                (device_id, kind.value, body, ts),
            ).fetchone()
            return StateRecord(doc=doc, version=int(row[0]), updated=ts)

        return await self._db.writer.run(run)

    async def get_state(self, device_id: str, kind: StateKind) -> StateRecord | None:
        row = await self._db.readers.run(
            lambda c: c.execute(
                "SELECT doc, version, updated FROM state WHERE device_id = ? AND kind = ?", (device_id, kind.value)
            ).fetchone()
        )
        return None if row is None else StateRecord(orjson.loads(row[0]), row[1], row[2])

    async def list_states(self, kind: StateKind) -> list[tuple[str, StateRecord]]:
        rows = await self._db.readers.run(
            lambda c: c.execute(
                "SELECT device_id, doc, version, updated FROM state WHERE kind = ? ORDER BY device_id", (kind.value,)
            ).fetchall()
        )
        return [(d, StateRecord(orjson.loads(doc), v, u)) for d, doc, v, u in rows]

"""Node statements of the SQLite store: heartbeats and log lines (:class:`hub.store.nodes.NodeStore`)."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from hub.store.nodes import HeartbeatRecord, LogRow
from hub.store.sqlite.connections import transaction
from hub.store.sqlite.database import SqliteDatabase


class SqliteNodes:
    """The latest heartbeat per node in ``heartbeats``; the newest log lines per node in ``node_logs``."""

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

    async def append_logs(self, node_id: str, lines: list[LogRow], keep: int) -> None:
        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.executemany(
                    "INSERT INTO node_logs(node_id, ts, level, logger, message) VALUES (?, ?, ?, ?, ?)",
                    [(node_id, *line) for line in lines],
                )
                conn.execute(
                    "DELETE FROM node_logs WHERE node_id = ? AND id <= (SELECT id FROM node_logs "
                    "WHERE node_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (node_id, node_id, keep),
                )

        await self._db.writer.run(run)

    async def recent_logs(self, node_id: str, limit: int) -> list[LogRow]:
        rows = await self._db.readers.run(
            lambda c: c.execute(
                "SELECT ts, level, logger, message FROM node_logs WHERE node_id = ? ORDER BY id DESC LIMIT ?",
                (node_id, limit),
            ).fetchall()
        )
        return [tuple(row) for row in reversed(rows)]

"""The outbox of the SQLite store: one row per stored batch, its messages as packed columns.

A batch is one blob, ``[[device_id, tenant, received, keys, stamps, values, seqs], ...]`` in JSON:
the reading columns ingest already holds go in as lists, with no per-reading work on the write path.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

import orjson

from contracts.telemetry import ReadingColumns
from hub.store.outbox import StoredBatch
from hub.store.sqlite.database import SqliteDatabase
from hub.store.telemetry import DeviceReadings, Message


def encode(batch: Sequence[Message]) -> bytes:
    rows = []
    for message in batch:
        columns = ReadingColumns.of(message.readings)
        rows.append(
            (
                message.device_id,
                message.tenant,
                message.received,
                columns.keys,
                columns.stamps,
                columns.values,
                columns.seqs,
            )
        )
    return orjson.dumps(rows)


def decode(blob: bytes) -> list[Message]:
    return [
        DeviceReadings(device_id, tenant, received, ReadingColumns(keys, stamps, values, seqs))
        for device_id, tenant, received, keys, stamps, values, seqs in orjson.loads(blob)
    ]


def append(conn: sqlite3.Connection, batch: Sequence[Message], now: int) -> int:
    """Add a batch (inside the caller's transaction); return its position."""
    row = conn.execute(
        "INSERT INTO outbox(created, data) VALUES (?, ?) RETURNING position", (now, encode(batch))
    ).fetchone()
    return int(row[0])


def head(conn: sqlite3.Connection) -> int:
    # sqlite_sequence still knows the last position after every batch was trimmed.
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
    return 0 if row is None else int(row[0])


def since(conn: sqlite3.Connection, position: int, limit: int) -> list[StoredBatch]:
    rows = conn.execute(
        "SELECT position, created, data FROM outbox WHERE position > ? ORDER BY position LIMIT ?", (position, limit)
    ).fetchall()
    return [StoredBatch(at, created, decode(data)) for at, created, data in rows]


def oldest_after(conn: sqlite3.Connection, position: int) -> int | None:
    row = conn.execute(
        "SELECT created FROM outbox WHERE position > ? ORDER BY position LIMIT 1", (position,)
    ).fetchone()
    return None if row is None else int(row[0])


def get_cursor(conn: sqlite3.Connection, name: str) -> int | None:
    row = conn.execute("SELECT position FROM outbox_cursors WHERE name = ?", (name,)).fetchone()
    return None if row is None else int(row[0])


def set_cursor(conn: sqlite3.Connection, name: str, position: int, now: int) -> None:
    conn.execute(
        "INSERT INTO outbox_cursors(name, position, updated) VALUES (?, ?, ?) "
        "ON CONFLICT(name) DO UPDATE SET position = excluded.position, updated = excluded.updated",
        (name, position, now),
    )


def trim(conn: sqlite3.Connection, older_than: int) -> int:
    (passed,) = conn.execute("SELECT min(position) FROM outbox_cursors").fetchone()
    bound = "AND position <= ?" if passed is not None else ""
    args = (older_than, passed) if passed is not None else (older_than,)
    return conn.execute(f"DELETE FROM outbox WHERE created < ? {bound}", args).rowcount  # noqa: S608 - fixed fragment


def _now() -> int:
    return time.time_ns() // 1_000_000


class SqliteOutbox:
    """:class:`hub.store.outbox.Outbox` on the ``outbox`` and ``outbox_cursors`` tables."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def head(self) -> int:
        return await self._db.readers.run(head)

    async def since(self, position: int, limit: int) -> list[StoredBatch]:
        return await self._db.readers.run(lambda c: since(c, position, limit))

    async def oldest_after(self, position: int) -> int | None:
        return await self._db.readers.run(lambda c: oldest_after(c, position))

    async def get_cursor(self, name: str) -> int | None:
        return await self._db.readers.run(lambda c: get_cursor(c, name))

    async def set_cursor(self, name: str, position: int) -> None:
        now = _now()
        await self._db.writer.run(lambda c: set_cursor(c, name, position, now))

    async def trim(self, older_than: int) -> int:
        return await self._db.writer.run(lambda c: trim(c, older_than))

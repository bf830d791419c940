"""The outbox of the SQLite store: one row per stored batch, its messages in one blob (:mod:`hub.store.batches`)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

from hub.clock import now_ms
from hub.store.batches import decode, encode
from hub.store.outbox import StoredBatch
from hub.store.sqlite.connections import transaction
from hub.store.sqlite.database import SqliteDatabase
from hub.store.telemetry import Message

log = logging.getLogger(__name__)


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


def trim(conn: sqlite3.Connection, older_than: int, cursors_idle_since: int) -> int:
    with transaction(conn):
        idle = conn.execute("DELETE FROM outbox_cursors WHERE updated < ? RETURNING name", (cursors_idle_since,))
        for (name,) in idle.fetchall():
            log.warning("dropped the outbox cursor of %s: no process has forwarded that stream for long", name)
        conn.execute("DELETE FROM outbox_followers WHERE until < ?", (now_ms(),))
        return _trim_batches(conn, older_than)


def _trim_batches(conn: sqlite3.Connection, older_than: int) -> int:
    (passed,) = conn.execute("SELECT min(position) FROM outbox_cursors").fetchone()
    bound = "AND position <= ?" if passed is not None else ""
    args = (older_than, passed) if passed is not None else (older_than,)
    return conn.execute(f"DELETE FROM outbox WHERE created < ? {bound}", args).rowcount  # noqa: S608 - fixed fragment


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
        now = now_ms()
        await self._db.writer.run(lambda c: set_cursor(c, name, position, now))

    async def trim(self, older_than: int, cursors_idle_since: int) -> int:
        return await self._db.writer.run(lambda c: trim(c, older_than, cursors_idle_since))

    async def lease(self, follower: str, until: int) -> None:
        await self._db.writer.run(
            lambda c: c.execute(
                "INSERT INTO outbox_followers(name, until) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET until = excluded.until",
                (follower, until),
            )
        )

    async def release(self, follower: str) -> None:
        await self._db.writer.run(lambda c: c.execute("DELETE FROM outbox_followers WHERE name = ?", (follower,)))

    async def followed(self, now: int) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM outbox_cursors) "
                "OR EXISTS (SELECT 1 FROM outbox_followers WHERE until > ?)",
                (now,),
            ).fetchone()
            return bool(row[0])

        return await self._db.readers.run(run)

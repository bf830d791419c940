"""Sign-in guard statements of the SQLite store (:class:`hub.store.signins.SignInStore`).

Failures are rows of ``sign_in_failures`` (key, time), locks rows of ``sign_in_locks``. A failure is counted
and the lock decided in one transaction on the single writer, so two processes cannot both miss the limit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from hub.store.sqlite.connections import transaction
from hub.store.sqlite.database import SqliteDatabase


class SqliteSignIns:
    """Failures in ``sign_in_failures``, locks in ``sign_in_locks``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def locked_until(self, keys: Sequence[str], now: int) -> int | None:
        if not keys:
            return None
        marks = ", ".join("?" * len(keys))
        sql = f"SELECT max(until) FROM sign_in_locks WHERE key IN ({marks}) AND until > ?"  # noqa: S608 - marks
        row = await self._db.readers.run(lambda c: c.execute(sql, (*keys, now)).fetchone())
        return None if row[0] is None else int(row[0])

    async def fail(self, key: str, now: int, *, window_ms: int, limit: int, cooldown_ms: int) -> int | None:
        def run(conn: sqlite3.Connection) -> int | None:
            with transaction(conn):
                conn.execute("DELETE FROM sign_in_failures WHERE key = ? AND ts <= ?", (key, now - window_ms))
                conn.execute("INSERT INTO sign_in_failures(key, ts) VALUES (?, ?)", (key, now))
                (count,) = conn.execute("SELECT count(*) FROM sign_in_failures WHERE key = ?", (key,)).fetchone()
                if count < limit:
                    return None
                until = now + cooldown_ms
                conn.execute("DELETE FROM sign_in_failures WHERE key = ?", (key,))
                conn.execute(
                    "INSERT INTO sign_in_locks(key, until) VALUES (?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET until = max(until, excluded.until)",
                    (key, until),
                )
                return until

        return await self._db.writer.run(run)

    async def clear(self, key: str) -> None:
        await self._db.writer.run(lambda c: c.execute("DELETE FROM sign_in_failures WHERE key = ?", (key,)))

    async def trim(self, before: int) -> int:
        def run(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                failures = conn.execute("DELETE FROM sign_in_failures WHERE ts < ?", (before,)).rowcount
                locks = conn.execute("DELETE FROM sign_in_locks WHERE until < ?", (before,)).rowcount
                return int(failures + locks)

        return await self._db.writer.run(run)

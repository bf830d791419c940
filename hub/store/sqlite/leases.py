"""Lease statements of the SQLite store (:class:`hub.store.leases.LeaseStore`).

A lease is a row of ``leases``. Taking one is a single upsert whose update applies only when the row is
expired or already the holder's: SQLite's one writer makes it a compare-and-set across processes.
"""

from __future__ import annotations

from hub.store.leases import Lease
from hub.store.sqlite.database import SqliteDatabase

_ACQUIRE = (
    "INSERT INTO leases(name, holder, until) VALUES (?, ?, ?)"
    " ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, until = excluded.until"
    " WHERE leases.holder = excluded.holder OR leases.until <= ?"
)


class SqliteLeases:
    """Leases in ``leases`` (name, holder, until)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def acquire(self, name: str, holder: str, now: int, until: int) -> bool:
        # One row changed: inserted, or updated because the WHERE held; none: another holder's lease runs.
        changed = await self._db.writer.run(lambda c: c.execute(_ACQUIRE, (name, holder, until, now)).rowcount)
        return bool(changed == 1)

    async def release(self, name: str, holder: str) -> bool:
        sql = "DELETE FROM leases WHERE name = ? AND holder = ?"
        removed = await self._db.writer.run(lambda c: c.execute(sql, (name, holder)).rowcount)
        return bool(removed == 1)

    async def holder(self, name: str, now: int) -> Lease | None:
        sql = "SELECT holder, until FROM leases WHERE name = ? AND until > ?"
        row = await self._db.readers.run(lambda c: c.execute(sql, (name, now)).fetchone())
        return None if row is None else Lease(name, row[0], int(row[1]))

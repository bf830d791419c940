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
        sql = "UPDATE leases SET until = 0 WHERE name = ? AND holder = ? AND until > 0"
        released = await self._db.writer.run(lambda c: c.execute(sql, (name, holder)).rowcount)
        return bool(released == 1)

    async def holder(self, name: str, now: int) -> Lease | None:
        sql = "SELECT holder, until FROM leases WHERE name = ? AND until > ?"
        row = await self._db.readers.run(lambda c: c.execute(sql, (name, now)).fetchone())
        return None if row is None else Lease(name, row[0], int(row[1]))

    async def lapsed(self, prefix: str, now: int) -> list[Lease]:
        # A range on the primary key, not LIKE: names may hold % and _.
        sql = "SELECT name, holder, until FROM leases WHERE name >= ? AND name < ? AND until <= ? ORDER BY name"
        rows = await self._db.readers.run(lambda c: c.execute(sql, (prefix, prefix + "\U0010ffff", now)).fetchall())
        return [Lease(str(name), str(holder), int(until)) for name, holder, until in rows]

    async def forget(self, name: str, holder: str) -> bool:
        sql = "DELETE FROM leases WHERE name = ? AND holder = ?"
        removed = await self._db.writer.run(lambda c: c.execute(sql, (name, holder)).rowcount)
        return bool(removed == 1)

"""Profile statements of the SQLite store (:class:`hub.store.profiles.ProfileStore`), schema version 13.

A profile is a document: one row of ``profiles`` per tenant and id, the model as JSON. ``profile_users`` counts
with the partial indexes ``devices_by_profile`` and ``rules_by_profile``. ``changed`` reads the ``profiles``
counter of ``store_versions``, which triggers bump on every write of a profile and every change of a device's
profile, in the writing transaction (so any process sees it with the change).
"""

from __future__ import annotations

import sqlite3

from contracts.profiles import Profile
from hub.store.sqlite.database import SqliteDatabase
from hub.store.sqlite.where import Where


def store_version(conn: sqlite3.Connection, name: str) -> int:
    """The change counter ``name`` of ``store_versions``."""
    (version,) = conn.execute("SELECT version FROM store_versions WHERE name = ?", (name,)).fetchone()
    return int(version)


def _users(conn: sqlite3.Connection, tenant: str, profile_id: str) -> tuple[int, int]:
    (devices,) = conn.execute(
        "SELECT count(*) FROM devices WHERE tenant = ? AND profile = ?", (tenant, profile_id)
    ).fetchone()
    (rules,) = conn.execute(
        "SELECT count(*) FROM rules WHERE tenant = ? AND profile = ?", (tenant, profile_id)
    ).fetchone()
    return int(devices), int(rules)


class SqliteProfiles:
    """Profiles in ``profiles``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def add_profile(self, profile: Profile) -> None:
        await self._db.create(
            lambda c: c.execute(
                "INSERT INTO profiles(tenant, id, doc) VALUES (?, ?, ?)",
                (profile.tenant, profile.id, profile.model_dump_json()),
            ),
            "profile",
            profile.id,
        )

    async def get_profile(self, tenant: str, profile_id: str) -> Profile | None:
        row = await self._db.readers.run(
            lambda c: c.execute("SELECT doc FROM profiles WHERE tenant = ? AND id = ?", (tenant, profile_id)).fetchone()
        )
        return None if row is None else Profile.model_validate_json(row[0])

    async def list_profiles(self, tenant: str | None) -> list[Profile]:
        where = Where().equals("tenant", tenant)
        sql = f"SELECT doc FROM profiles {where.sql} ORDER BY tenant, id"  # noqa: S608 - constants only
        rows = await self._db.readers.run(lambda c: c.execute(sql, where.args).fetchall())
        return [Profile.model_validate_json(doc) for (doc,) in rows]

    async def put_profile(self, profile: Profile) -> bool:
        args = (profile.model_dump_json(), profile.tenant, profile.id)
        return await self._db.writer.run(
            lambda c: c.execute("UPDATE profiles SET doc = ? WHERE tenant = ? AND id = ?", args).rowcount > 0
        )

    async def delete_profile(self, tenant: str, profile_id: str) -> bool:
        return await self._db.writer.run(
            lambda c: c.execute("DELETE FROM profiles WHERE tenant = ? AND id = ?", (tenant, profile_id)).rowcount > 0
        )

    async def profile_users(self, tenant: str, profile_id: str) -> tuple[int, int]:
        return await self._db.readers.run(lambda c: _users(c, tenant, profile_id))

    async def changed(self) -> int:
        return await self._db.readers.run(lambda c: store_version(c, "profiles"))

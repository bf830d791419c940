"""Identity statements of the SQLite store: local users (:class:`hub.store.identity.IdentityStore`)."""

from __future__ import annotations

from typing import Any

from hub.store.identity import UserRecord
from hub.store.sqlite.database import SqliteDatabase


class SqliteIdentity:
    """Local users in the ``users`` table."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create_user(self, user: UserRecord) -> None:
        await self._db.insert(
            "INSERT INTO users(username, password_hash, role, tenant, created) VALUES (?, ?, ?, ?, ?)",
            (user.username, user.password_hash, user.role, user.tenant, user.created),
            "user",
        )

    async def put_user(self, user: UserRecord) -> None:
        await self._db.writer.run(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO users(username, password_hash, role, tenant, created) VALUES (?, ?, ?, ?, ?)",
                (user.username, user.password_hash, user.role, user.tenant, user.created),
            )
        )

    async def get_user(self, username: str) -> UserRecord | None:
        row = await self._db.readers.run(
            lambda c: c.execute(
                "SELECT username, password_hash, role, tenant, created FROM users WHERE username = ?", (username,)
            ).fetchone()
        )
        return None if row is None else UserRecord(*row)

    async def list_users(self, tenant: str | None) -> list[UserRecord]:
        sql = "SELECT username, password_hash, role, tenant, created FROM users"
        args: tuple[Any, ...] = ()
        if tenant is not None:
            sql += " WHERE tenant = ?"
            args = (tenant,)
        rows = await self._db.readers.run(lambda c: c.execute(sql + " ORDER BY username", args).fetchall())
        return [UserRecord(*r) for r in rows]

"""API key statements of the SQLite store (:class:`hub.store.api_keys.ApiKeyStore`)."""

from __future__ import annotations

import sqlite3
from typing import Any

from hub.store.api_keys import ApiKeyRecord, ApiKeyStatus
from hub.store.sqlite.database import SqliteDatabase
from hub.store.sqlite.identity import _USER_COLUMNS, _user
from hub.store.sqlite.where import Where

_KEY_COLUMNS = "id, name, creator, role, tenant, salt, digest, created, expires, last_used"
_KEY_WIDTH = len(_KEY_COLUMNS.split(","))
# The creator's columns, as the identity adapter reads a user.
_CREATOR_COLUMNS = ", ".join(f"u.{column.strip()}" for column in _USER_COLUMNS.split(","))
_KEYS_WITH_CREATOR = ", ".join(f"k.{column.strip()}" for column in _KEY_COLUMNS.split(",")) + ", " + _CREATOR_COLUMNS


def _key(row: tuple[Any, ...]) -> ApiKeyRecord:
    return ApiKeyRecord(*row)


def status(conn: sqlite3.Connection, key_id: str) -> ApiKeyStatus | None:
    row = conn.execute(
        f"SELECT {_KEYS_WITH_CREATOR} FROM api_keys AS k "  # noqa: S608 - constant
        "JOIN users AS u ON u.username = k.creator WHERE k.id = ?",
        (key_id,),
    ).fetchone()
    return None if row is None else ApiKeyStatus(_key(row[:_KEY_WIDTH]), _user(row[_KEY_WIDTH:]))


class SqliteApiKeys:
    """API keys in the ``api_keys`` table, checked against their creators in ``users``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create_api_key(self, key: ApiKeyRecord) -> None:
        await self._db.insert(
            f"INSERT INTO api_keys({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - constant
            (
                key.id,
                key.name,
                key.creator,
                key.role,
                key.tenant,
                key.salt,
                key.digest,
                key.created,
                key.expires,
                key.last_used,
            ),
            "api key",
        )

    async def api_key_status(self, key_id: str) -> ApiKeyStatus | None:
        return await self._db.readers.run(lambda c: status(c, key_id))

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        row = await self._db.readers.run(
            lambda c: c.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?",  # noqa: S608 - constant
                (key_id,),
            ).fetchone()
        )
        return None if row is None else _key(row)

    async def list_api_keys(self, *, tenant: str | None = None, creator: str | None = None) -> list[ApiKeyRecord]:
        where = Where().equals("tenant", tenant).equals("creator", creator)
        sql = f"SELECT {_KEY_COLUMNS} FROM api_keys {where.sql} ORDER BY created DESC, id"  # noqa: S608 - constants
        rows = await self._db.readers.run(lambda c: c.execute(sql, where.args).fetchall())
        return [_key(r) for r in rows]

    async def delete_api_key(self, key_id: str) -> bool:
        return await self._db.writer.run(
            lambda c: c.execute("DELETE FROM api_keys WHERE id = ?", (key_id,)).rowcount == 1
        )

    async def touch_api_key(self, key_id: str, used: int, *, unless_since: int) -> None:
        await self._db.writer.run(
            lambda c: c.execute(
                "UPDATE api_keys SET last_used = ? WHERE id = ? AND (last_used IS NULL OR last_used < ?)",
                (used, key_id, unless_since),
            )
        )

"""Provisioning-token statements of the SQLite store (:class:`hub.store.provisioning.ProvisioningStore`)."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from hub.store.provisioning import ProvisioningTokenRecord
from hub.store.sqlite.database import SqliteDatabase

_COLUMNS = "id, tenant, secret_hash, expires, uses_left, labels, created_by, created"


def _record(row: tuple[Any, ...]) -> ProvisioningTokenRecord:
    token_id, tenant, secret_hash, expires, uses_left, labels, created_by, created = row
    return ProvisioningTokenRecord(
        token_id, tenant, secret_hash, expires, uses_left, orjson.loads(labels), created_by, created
    )


def insert(conn: sqlite3.Connection, token: ProvisioningTokenRecord) -> None:
    conn.execute(
        f"INSERT INTO provisioning_tokens({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - constant
        (
            token.id,
            token.tenant,
            token.secret_hash,
            token.expires,
            token.uses_left,
            orjson.dumps(token.labels).decode(),
            token.created_by,
            token.created,
        ),
    )


def get(conn: sqlite3.Connection, token_id: str) -> ProvisioningTokenRecord | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM provisioning_tokens WHERE id = ?", (token_id,)).fetchone()  # noqa: S608
    return None if row is None else _record(row)


def list_for(conn: sqlite3.Connection, tenant: str | None) -> list[ProvisioningTokenRecord]:
    sql = f"SELECT {_COLUMNS} FROM provisioning_tokens"  # noqa: S608 - constant
    args: tuple[str, ...] = ()
    if tenant is not None:
        sql += " WHERE tenant = ?"
        args = (tenant,)
    return [_record(row) for row in conn.execute(sql + " ORDER BY created DESC, id", args)]


def use(conn: sqlite3.Connection, token_id: str, now: int) -> bool:
    cursor = conn.execute(
        "UPDATE provisioning_tokens SET uses_left = uses_left - 1 WHERE id = ? AND uses_left > 0 AND expires > ?",
        (token_id, now),
    )
    return cursor.rowcount == 1


def delete(conn: sqlite3.Connection, token_id: str) -> bool:
    return conn.execute("DELETE FROM provisioning_tokens WHERE id = ?", (token_id,)).rowcount == 1


class SqliteProvisioning:
    """Enrollment tokens in the ``provisioning_tokens`` table."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create_token(self, token: ProvisioningTokenRecord) -> None:
        await self._db.create(lambda conn: insert(conn, token), "provisioning token", token.id)

    async def get_token(self, token_id: str) -> ProvisioningTokenRecord | None:
        return await self._db.readers.run(lambda c: get(c, token_id))

    async def list_tokens(self, tenant: str | None) -> list[ProvisioningTokenRecord]:
        return await self._db.readers.run(lambda c: list_for(c, tenant))

    async def use_token(self, token_id: str, now: int) -> bool:
        return await self._db.writer.run(lambda c: use(c, token_id, now))

    async def delete_token(self, token_id: str) -> bool:
        return await self._db.writer.run(lambda c: delete(c, token_id))

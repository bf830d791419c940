"""Identity statements of the SQLite store: local users and their token sessions
(:class:`hub.store.identity.IdentityStore`)."""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import Any

from hub.store.identity import SessionRecord, SessionStatus, UserRecord
from hub.store.sqlite.connections import transaction
from hub.store.sqlite.database import SqliteDatabase

_USER_COLUMNS = "username, password_hash, role, tenant, created, token_version, source, last_sign_in, disabled"


def _user(row: tuple[Any, ...]) -> UserRecord:
    # ``disabled`` comes last, as SQLite's 0 or 1.
    return dataclasses.replace(UserRecord(*row[:-1]), disabled=bool(row[-1]))


def put(conn: sqlite3.Connection, user: UserRecord) -> None:
    # An upsert, not INSERT OR REPLACE: a replaced row would start again at the version of ``user``,
    # and tokens of that version would work again.
    conn.execute(
        f"INSERT INTO users({_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608 - constant
        "ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role, "
        "tenant = excluded.tenant, created = excluded.created, token_version = users.token_version + 1, "
        "source = excluded.source, last_sign_in = excluded.last_sign_in",
        _values(user),
    )


def _values(user: UserRecord) -> tuple[Any, ...]:
    return (
        user.username,
        user.password_hash,
        user.role,
        user.tenant,
        user.created,
        user.token_version,
        user.source,
        user.last_sign_in,
        int(user.disabled),
    )


def record_directory_user(
    conn: sqlite3.Connection, username: str, role: str, tenant: str | None, at: int
) -> UserRecord | None:
    # The WHERE leaves a local user of that name alone (no row comes back); SET sees the old row's values.
    rows = conn.execute(
        f"INSERT INTO users({_USER_COLUMNS}) VALUES (?, '', ?, ?, ?, 0, 'ldap', ?, 0) "  # noqa: S608 - constant
        "ON CONFLICT(username) DO UPDATE SET role = excluded.role, tenant = excluded.tenant, "
        "last_sign_in = excluded.last_sign_in, "
        "token_version = users.token_version "
        "+ (users.role IS NOT excluded.role OR users.tenant IS NOT excluded.tenant) "
        f"WHERE users.source = 'ldap' RETURNING {_USER_COLUMNS}",
        (username, role, tenant, at, at),
    ).fetchall()
    return _user(rows[0]) if rows else None


def update(
    conn: sqlite3.Connection, username: str, password_hash: str | None, role: str | None, disabled: bool | None = None
) -> UserRecord | None:
    rows = conn.execute(
        "UPDATE users SET password_hash = coalesce(?, password_hash), role = coalesce(?, role), "  # noqa: S608 - constant
        "disabled = coalesce(?, disabled), "
        f"token_version = token_version + 1 WHERE username = ? RETURNING {_USER_COLUMNS}",
        (password_hash, role, None if disabled is None else int(disabled), username),
    ).fetchall()
    return _user(rows[0]) if rows else None


def delete(conn: sqlite3.Connection, username: str) -> bool:
    with transaction(conn):
        conn.execute("DELETE FROM user_sessions WHERE username = ?", (username,))
        # Its API keys go too: a later user of the same name must not inherit them.
        conn.execute("DELETE FROM api_keys WHERE creator = ?", (username,))
        return conn.execute("DELETE FROM users WHERE username = ?", (username,)).rowcount == 1


def insert_session(conn: sqlite3.Connection, session: SessionRecord) -> None:
    with transaction(conn):
        # Purged here, so the table holds about one token lifetime of sign-ins and needs no sweeper.
        conn.execute("DELETE FROM user_sessions WHERE expires <= ?", (session.issued,))
        conn.execute(
            "INSERT INTO user_sessions(id, username, issued, expires, revoked) VALUES (?, ?, ?, ?, ?)",
            (session.id, session.username, session.issued, session.expires, int(session.revoked)),
        )


def status(conn: sqlite3.Connection, session_id: str) -> SessionStatus | None:
    row = conn.execute(
        "SELECT s.id, s.username, s.issued, s.expires, s.revoked, u.token_version "
        "FROM user_sessions AS s JOIN users AS u ON u.username = s.username WHERE s.id = ?",
        (session_id,),
    ).fetchone()
    if row is None:
        return None
    sid, username, issued, expires, revoked, version = row
    return SessionStatus(SessionRecord(sid, username, issued, expires, bool(revoked)), version)


class SqliteIdentity:
    """Local users in the ``users`` table, token sessions in ``user_sessions``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create_user(self, user: UserRecord) -> None:
        await self._db.insert(
            f"INSERT INTO users({_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - constant
            _values(user),
            "user",
        )

    async def put_user(self, user: UserRecord) -> None:
        await self._db.writer.run(lambda c: put(c, user))

    async def get_user(self, username: str) -> UserRecord | None:
        row = await self._db.readers.run(
            lambda c: c.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE username = ?",  # noqa: S608 - constant
                (username,),
            ).fetchone()
        )
        return None if row is None else _user(row)

    async def list_users(self, tenant: str | None) -> list[UserRecord]:
        sql = f"SELECT {_USER_COLUMNS} FROM users"  # noqa: S608 - constant
        args: tuple[Any, ...] = ()
        if tenant is not None:
            sql += " WHERE tenant = ?"
            args = (tenant,)
        rows = await self._db.readers.run(lambda c: c.execute(sql + " ORDER BY username", args).fetchall())
        return [_user(r) for r in rows]

    async def update_user(
        self,
        username: str,
        *,
        password_hash: str | None = None,
        role: str | None = None,
        disabled: bool | None = None,
    ) -> UserRecord | None:
        return await self._db.writer.run(lambda c: update(c, username, password_hash, role, disabled))

    async def delete_user(self, username: str) -> bool:
        return await self._db.writer.run(lambda c: delete(c, username))

    async def record_directory_user(self, username: str, role: str, tenant: str | None, at: int) -> UserRecord | None:
        return await self._db.writer.run(lambda c: record_directory_user(c, username, role, tenant, at))

    async def create_session(self, session: SessionRecord) -> None:
        await self._db.create(lambda c: insert_session(c, session), "session", session.id)

    async def session_status(self, session_id: str) -> SessionStatus | None:
        return await self._db.readers.run(lambda c: status(c, session_id))

    async def revoke_session(self, session_id: str) -> bool:
        return await self._db.writer.run(
            lambda c: c.execute("UPDATE user_sessions SET revoked = 1 WHERE id = ?", (session_id,)).rowcount == 1
        )

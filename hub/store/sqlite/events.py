"""Event statements of the SQLite store (:class:`hub.store.events.EventStore`).

Events are rows of ``events`` (schema version 12), their ids from AUTOINCREMENT, so an id is never given
twice, even after retention removed the newest. Every filter has an index ending in ``id``: tenant, kind (a
prefix ``node.`` is the range ``node.`` to ``node/``, one index range), deployment and node; time has its
own. Webhook subscriptions are rows of ``webhooks``, their counters added to in place. Cursors are rows of
``event_cursors`` (schema version 21).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from contracts.events import Event, EventKind
from hub.store.events import Attempt, EventQuery, NewEvent, Webhook
from hub.store.sqlite.connections import transaction
from hub.store.sqlite.database import SqliteDatabase
from hub.store.sqlite.where import Where

_COLUMNS = "id, ts, tenant, kind, deployment, node, message, data"
_WEBHOOK_COLUMNS = (
    "id, tenant, url, kinds, secret, created, delivered, failed_attempts, dropped, last_attempt, last_status,"
    " last_error, last_delivered"
)


def _event(row: Sequence[Any]) -> Event:
    ident, ts, tenant, kind, deployment, node, message, data = row
    return Event(
        id=ident,
        ts=ts,
        tenant=tenant,
        kind=EventKind(kind),
        deployment=deployment,
        node=node,
        message=message,
        data=orjson.loads(data),
    )


def _webhook(row: Sequence[Any]) -> Webhook:
    ident, tenant, url, kinds, secret, created, *counters = row
    return Webhook(ident, tenant, url, tuple(orjson.loads(kinds)), secret, created, *counters)


def _where(query: EventQuery) -> Where:
    where = Where()
    where.equals("tenant", query.tenant).equals("deployment", query.deployment).equals("node", query.node)
    if query.kind:
        if query.kind.endswith("."):
            # The characters after "." in ASCII start with "/": the family is one range of the kind index.
            where.add("kind >= ? AND kind < ?", query.kind, query.kind[:-1] + "/")
        else:
            where.equals("kind", query.kind)
    if query.start is not None:
        where.add("ts >= ?", query.start)
    if query.end is not None:
        where.add("ts < ?", query.end)
    if query.after is not None:
        where.add("id > ?", query.after)
    return where


class SqliteEvents:
    """Events in ``events``, webhook subscriptions in ``webhooks``, consumers' cursors in ``event_cursors``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def append(self, events: Sequence[NewEvent]) -> list[Event]:
        if not events:
            return []
        rows = [
            (e.ts, e.tenant, e.kind, e.deployment, e.node, e.message, orjson.dumps(e.data or {}).decode())
            for e in events
        ]

        def run(conn: sqlite3.Connection) -> list[int]:
            with transaction(conn):
                return [
                    conn.execute(
                        "INSERT INTO events(ts, tenant, kind, deployment, node, message, data)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                        row,
                    ).fetchone()[0]
                    for row in rows
                ]

        ids = await self._db.writer.run(run)
        return [
            Event(
                id=ident,
                ts=e.ts,
                tenant=e.tenant,
                kind=EventKind(e.kind),
                deployment=e.deployment,
                node=e.node,
                message=e.message,
                data=e.data or {},
            )
            for ident, e in zip(ids, events, strict=True)
        ]

    async def query(self, query: EventQuery) -> list[Event]:
        where = _where(query)
        order = "id" if query.after is not None else "id DESC"
        sql = f"SELECT {_COLUMNS} FROM events {where.sql} ORDER BY {order} LIMIT ?"  # noqa: S608 - constants only
        args = [*where.args, query.limit]
        rows = await self._db.readers.run(lambda c: c.execute(sql, args).fetchall())
        return [_event(row) for row in rows]

    async def last_id(self) -> int:
        row = await self._db.readers.run(lambda c: c.execute("SELECT max(id) FROM events").fetchone())
        return int(row[0] or 0)

    async def trim(self, before: int, keep: int) -> int:
        def run(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                removed = conn.execute("DELETE FROM events WHERE ts < ?", (before,)).rowcount
                tenants = [row[0] for row in conn.execute("SELECT DISTINCT tenant FROM events")]
                for tenant in tenants:
                    removed += conn.execute(
                        "DELETE FROM events WHERE tenant = ? AND id <= "
                        "(SELECT id FROM events WHERE tenant = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                        (tenant, tenant, keep),
                    ).rowcount
                return int(removed)

        return await self._db.writer.run(run)

    async def add_webhook(self, webhook: Webhook) -> None:
        await self._db.insert(
            "INSERT INTO webhooks(id, tenant, url, kinds, secret, created) VALUES (?, ?, ?, ?, ?, ?)",
            (
                webhook.id,
                webhook.tenant,
                webhook.url,
                orjson.dumps(list(webhook.kinds)).decode(),
                webhook.secret,
                webhook.created,
            ),
            "webhook",
        )

    async def webhooks(self, tenant: str | None) -> list[Webhook]:
        where = Where().equals("tenant", tenant)
        sql = f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks {where.sql} ORDER BY created, id"  # noqa: S608 - constants
        rows = await self._db.readers.run(lambda c: c.execute(sql, where.args).fetchall())
        return [_webhook(row) for row in rows]

    async def delete_webhook(self, webhook_id: str, tenant: str | None) -> bool:
        where = Where().equals("id", webhook_id).equals("tenant", tenant)
        sql = f"DELETE FROM webhooks {where.sql}"  # noqa: S608 - constants only
        removed = await self._db.writer.run(lambda c: c.execute(sql, where.args).rowcount)
        return bool(removed)

    async def count_attempt(self, webhook_id: str, attempt: Attempt) -> None:
        if attempt.delivered:
            sql = (
                "UPDATE webhooks SET delivered = delivered + 1, last_attempt = ?, last_status = ?, last_error = NULL,"
                " last_delivered = ? WHERE id = ?"
            )
            args: tuple[Any, ...] = (attempt.ts, attempt.status, attempt.ts, webhook_id)
        else:
            sql = (
                "UPDATE webhooks SET failed_attempts = failed_attempts + ?, dropped = dropped + ?, last_attempt = ?,"
                " last_status = ?, last_error = ? WHERE id = ?"
            )
            args = (int(attempt.tried), int(attempt.dropped), attempt.ts, attempt.status, attempt.error, webhook_id)
        await self._db.writer.run(lambda c: c.execute(sql, args))

    async def get_cursor(self, name: str) -> int | None:
        sql = "SELECT event FROM event_cursors WHERE name = ?"
        row = await self._db.readers.run(lambda c: c.execute(sql, (name,)).fetchone())
        return None if row is None else int(row[0])

    async def set_cursor(self, name: str, event_id: int) -> None:
        sql = (
            "INSERT INTO event_cursors(name, event) VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET event = excluded.event"
        )
        await self._db.writer.run(lambda c: c.execute(sql, (name, event_id)))

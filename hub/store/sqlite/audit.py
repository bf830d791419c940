"""Audit statements of the SQLite store (:class:`hub.store.audit.AuditStore`).

Records are rows of ``audit``, their ids from AUTOINCREMENT (never given twice). Each filter has an index ending
in ``id`` (tenant, actor, action, target; an action family ``device.`` is the range ``device.`` to ``device/``);
time has its own, which retention uses too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from contracts.audit import Actor, ActorKind, AuditRecord
from hub.store.audit import AuditQuery, NewAuditRecord
from hub.store.sqlite.connections import transaction
from hub.store.sqlite.database import SqliteDatabase
from hub.store.sqlite.where import Where

_COLUMNS = "id, ts, actor_kind, actor_id, action, target, tenant, address, outcome, status, detail"


def _record(row: Sequence[Any]) -> AuditRecord:
    ident, ts, actor_kind, actor_id, action, target, tenant, address, outcome, status, detail = row
    actor = None if actor_kind is None else Actor(kind=ActorKind(actor_kind), id=actor_id)
    return AuditRecord(
        id=ident,
        ts=ts,
        actor=actor,
        action=action,
        target=target,
        tenant=tenant,
        address=address,
        outcome=outcome,
        status=status,
        detail=orjson.loads(detail),
    )


def _where(query: AuditQuery) -> Where:
    where = Where().equals("tenant", query.tenant).equals("actor_id", query.actor).equals("target", query.target)
    if query.action:
        if query.action.endswith("."):
            # The character after "." in ASCII is "/": the family is one range of the action index.
            where.add("action >= ? AND action < ?", query.action, query.action[:-1] + "/")
        else:
            where.equals("action", query.action)
    if query.start is not None:
        where.add("ts >= ?", query.start)
    if query.end is not None:
        where.add("ts < ?", query.end)
    if query.before is not None:
        where.add("id < ?", query.before)
    return where


class SqliteAudit:
    """The audit trail in ``audit``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def append(self, records: Sequence[NewAuditRecord]) -> list[AuditRecord]:
        if not records:
            return []
        rows = [
            (
                r.ts,
                None if r.actor is None else r.actor.kind.value,
                None if r.actor is None else r.actor.id,
                r.action,
                r.target,
                r.tenant,
                r.address,
                r.outcome,
                r.status,
                orjson.dumps(r.detail).decode(),
            )
            for r in records
        ]

        def run(conn: sqlite3.Connection) -> list[int]:
            with transaction(conn):
                return [
                    conn.execute(
                        "INSERT INTO audit(ts, actor_kind, actor_id, action, target, tenant, address, outcome, status,"
                        " detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                        row,
                    ).fetchone()[0]
                    for row in rows
                ]

        ids = await self._db.writer.run(run)
        return [
            AuditRecord(
                id=ident,
                ts=r.ts,
                actor=r.actor,
                action=r.action,
                target=r.target,
                tenant=r.tenant,
                address=r.address,
                outcome=r.outcome,
                status=r.status,
                detail=r.detail,
            )
            for ident, r in zip(ids, records, strict=True)
        ]

    async def query(self, query: AuditQuery) -> list[AuditRecord]:
        where = _where(query)
        sql = f"SELECT {_COLUMNS} FROM audit {where.sql} ORDER BY id DESC LIMIT ?"  # noqa: S608 - constants only
        args = [*where.args, query.limit]
        rows = await self._db.readers.run(lambda c: c.execute(sql, args).fetchall())
        return [_record(row) for row in rows]

    async def trim(self, before: int) -> int:
        removed = await self._db.writer.run(lambda c: c.execute("DELETE FROM audit WHERE ts < ?", (before,)).rowcount)
        return int(removed)

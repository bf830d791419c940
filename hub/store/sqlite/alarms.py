"""Alarm statements of the SQLite store (:class:`hub.store.alarms.AlarmStore`), schema version 13.

Tables and the index each query uses:

- ``rules``, primary key ``(tenant, id)``, the rule as JSON and its ``profile`` as a column for
  ``rules_by_profile`` (how many rules name a profile). ``rules_changed`` reads the ``rules`` counter of
  ``store_versions``, bumped by triggers in the writing transaction.
- ``alarms``, primary key ``id``, filtered columns and the history as JSON. ``alarms_open``, unique on
  ``(tenant, rule, device)`` over the open states only, makes :meth:`SqliteAlarms.open_alarm` one conditional
  insert, atomic across processes. ``alarms_by_tenant``, ``_by_device``, ``_by_rule`` and ``_by_state``, each
  ending in ``raised``, serve the query filters in the newest-first order; ``_by_state`` also serves
  ``open_alarms`` and ``trim_alarms``.
- ``rule_pending``, primary key ``(tenant, rule, device)``: a rule's conditions go with it by that prefix;
  ``rule_pending_by_device`` lets a deleted device's go with it (``hub/store/sqlite/registry.py``).

A transition reads and writes the alarm in one ``BEGIN IMMEDIATE`` transaction, which holds SQLite's write lock:
no other process changes the state between the check and the write.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from contracts.alarms import Alarm, AlarmChange, AlarmState, Rule, Severity
from hub.store.alarms import AlarmQuery, Pending, bounded_history, moved
from hub.store.sqlite.connections import transaction
from hub.store.sqlite.database import SqliteDatabase
from hub.store.sqlite.profiles import store_version
from hub.store.sqlite.where import Where

_COLUMNS = (
    "id, tenant, rule, rule_name, device, key, severity, state, message, value, raised, acknowledged,"
    " acknowledged_by, cleared, cleared_by, updated, history"
)
_OPEN = "('active', 'acknowledged')"


def _history_json(history: list[AlarmChange]) -> str:
    return orjson.dumps([change.model_dump(mode="json") for change in history]).decode()


def _row(alarm: Alarm) -> tuple[Any, ...]:
    a = alarm
    return (
        a.id,
        a.tenant,
        a.rule,
        a.rule_name,
        a.device,
        a.key,
        a.severity.value,
        a.state.value,
        a.message,
        orjson.dumps(a.value).decode(),
        a.raised,
        a.acknowledged,
        a.acknowledged_by,
        a.cleared,
        a.cleared_by,
        a.updated,
        _history_json(a.history),
    )


def _alarm(row: Sequence[Any]) -> Alarm:
    ident, tenant, rule, rule_name, device, key, severity, state, message, value, raised, *rest = row
    acknowledged, acknowledged_by, cleared, cleared_by, updated, history = rest
    return Alarm(
        id=ident,
        tenant=tenant,
        rule=rule,
        rule_name=rule_name,
        device=device,
        key=key,
        severity=Severity(severity),
        state=AlarmState(state),
        message=message,
        value=orjson.loads(value),
        raised=raised,
        acknowledged=acknowledged,
        acknowledged_by=acknowledged_by,
        cleared=cleared,
        cleared_by=cleared_by,
        updated=updated,
        history=[AlarmChange.model_validate(change) for change in orjson.loads(history)],
    )


def _select_one(conn: sqlite3.Connection, alarm_id: str, tenant: str | None) -> Alarm | None:
    where = Where().equals("id", alarm_id).equals("tenant", tenant)
    row = conn.execute(f"SELECT {_COLUMNS} FROM alarms {where.sql}", where.args).fetchone()  # noqa: S608
    return None if row is None else _alarm(row)


def _where(query: AlarmQuery) -> Where:
    where = (
        Where()
        .equals("tenant", query.tenant)
        .equals("device", query.device)
        .equals("rule", query.rule)
        .one_of("state", [s.value for s in query.states])
        .one_of("severity", [s.value for s in query.severities])
    )
    if query.start is not None:
        where.add("raised >= ?", query.start)
    if query.end is not None:
        where.add("raised < ?", query.end)
    return where


def _page(conn: sqlite3.Connection, query: AlarmQuery) -> tuple[list[Alarm], int]:
    where = _where(query)
    (total,) = conn.execute(f"SELECT count(*) FROM alarms {where.sql}", where.args).fetchone()  # noqa: S608
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM alarms {where.sql} ORDER BY raised DESC, id DESC LIMIT ? OFFSET ?",  # noqa: S608
        [*where.args, query.limit, query.offset],
    ).fetchall()
    return [_alarm(row) for row in rows], int(total)


def _open(conn: sqlite3.Connection, alarm: Alarm) -> bool:
    # The conflict target names the partial index: an open alarm of the rule on the device makes this a no-op.
    cursor = conn.execute(
        f"INSERT INTO alarms({_COLUMNS}) VALUES ({', '.join('?' * 17)})"  # noqa: S608 - constants only
        f" ON CONFLICT (tenant, rule, device) WHERE state IN {_OPEN} DO NOTHING",
        _row(alarm),
    )
    return cursor.rowcount > 0


def _transition(
    conn: sqlite3.Connection, alarm_id: str, tenant: str | None, expected: Sequence[AlarmState], change: AlarmChange
) -> Alarm | None:
    with transaction(conn):
        alarm = _select_one(conn, alarm_id, tenant)
        if alarm is None or alarm.state not in expected:
            return None
        after = moved(alarm, change)
        conn.execute(
            "UPDATE alarms SET state = ?, updated = ?, acknowledged = ?, acknowledged_by = ?, cleared = ?,"
            " cleared_by = ?, history = ? WHERE id = ?",
            (
                after.state.value,
                after.updated,
                after.acknowledged,
                after.acknowledged_by,
                after.cleared,
                after.cleared_by,
                _history_json(after.history),
                alarm_id,
            ),
        )
        return after


def _set_pending(conn: sqlite3.Connection, started: Sequence[Pending], ended: Sequence[tuple[str, str, str]]) -> None:
    with transaction(conn):
        conn.executemany(
            "INSERT INTO rule_pending(tenant, rule, device, since) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (tenant, rule, device) DO UPDATE SET since = excluded.since",
            [(p.tenant, p.rule, p.device, p.since) for p in started],
        )
        conn.executemany("DELETE FROM rule_pending WHERE tenant = ? AND rule = ? AND device = ?", ended)


def _delete_rule(conn: sqlite3.Connection, tenant: str, rule_id: str) -> bool:
    with transaction(conn):
        conn.execute("DELETE FROM rule_pending WHERE tenant = ? AND rule = ?", (tenant, rule_id))
        return conn.execute("DELETE FROM rules WHERE tenant = ? AND id = ?", (tenant, rule_id)).rowcount > 0


class SqliteAlarms:
    """Rules in ``rules``, alarms in ``alarms``, pending conditions in ``rule_pending``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    # rules
    async def add_rule(self, rule: Rule) -> None:
        await self._db.create(
            lambda c: c.execute(
                "INSERT INTO rules(tenant, id, profile, doc) VALUES (?, ?, ?, ?)",
                (rule.tenant, rule.id, rule.profile, rule.model_dump_json()),
            ),
            "rule",
            rule.id,
        )

    async def get_rule(self, tenant: str, rule_id: str) -> Rule | None:
        row = await self._db.readers.run(
            lambda c: c.execute("SELECT doc FROM rules WHERE tenant = ? AND id = ?", (tenant, rule_id)).fetchone()
        )
        return None if row is None else Rule.model_validate_json(row[0])

    async def list_rules(self, tenant: str | None) -> list[Rule]:
        where = Where().equals("tenant", tenant)
        sql = f"SELECT doc FROM rules {where.sql} ORDER BY tenant, id"  # noqa: S608 - constants only
        rows = await self._db.readers.run(lambda c: c.execute(sql, where.args).fetchall())
        return [Rule.model_validate_json(doc) for (doc,) in rows]

    async def put_rule(self, rule: Rule) -> bool:
        args = (rule.profile, rule.model_dump_json(), rule.tenant, rule.id)
        return await self._db.writer.run(
            lambda c: c.execute("UPDATE rules SET profile = ?, doc = ? WHERE tenant = ? AND id = ?", args).rowcount > 0
        )

    async def delete_rule(self, tenant: str, rule_id: str) -> bool:
        return await self._db.writer.run(lambda c: _delete_rule(c, tenant, rule_id))

    async def rules_changed(self) -> int:
        return await self._db.readers.run(lambda c: store_version(c, "rules"))

    # alarms
    async def open_alarm(self, alarm: Alarm) -> Alarm | None:
        stored = alarm.model_copy(update={"history": bounded_history(alarm.history)})
        opened: list[bool] = []
        # Only a taken alarm id raises (a Conflict); an open alarm of the rule and device is no error.
        await self._db.create(lambda c: opened.append(_open(c, stored)), "alarm", alarm.id)
        return stored if opened[0] else None

    async def get_alarm(self, alarm_id: str, tenant: str | None) -> Alarm | None:
        return await self._db.readers.run(lambda c: _select_one(c, alarm_id, tenant))

    async def open_alarms(self) -> list[Alarm]:
        sql = f"SELECT {_COLUMNS} FROM alarms WHERE state IN {_OPEN} ORDER BY raised, id"  # noqa: S608 - constants
        rows = await self._db.readers.run(lambda c: c.execute(sql).fetchall())
        return [_alarm(row) for row in rows]

    async def query_alarms(self, query: AlarmQuery) -> tuple[list[Alarm], int]:
        return await self._db.readers.run(lambda c: _page(c, query))

    async def transition(
        self, alarm_id: str, tenant: str | None, expected: Sequence[AlarmState], change: AlarmChange
    ) -> Alarm | None:
        return await self._db.writer.run(lambda c: _transition(c, alarm_id, tenant, expected, change))

    async def trim_alarms(self, cleared_before: int) -> int:
        return await self._db.writer.run(
            lambda c: (
                c.execute("DELETE FROM alarms WHERE state = 'cleared' AND cleared < ?", (cleared_before,)).rowcount
            )
        )

    # pending conditions
    async def pending(self) -> list[Pending]:
        rows = await self._db.readers.run(
            lambda c: c.execute("SELECT tenant, rule, device, since FROM rule_pending ORDER BY tenant, rule").fetchall()
        )
        return [Pending(*row) for row in rows]

    async def set_pending(self, started: Sequence[Pending], ended: Sequence[tuple[str, str, str]]) -> None:
        if started or ended:
            await self._db.writer.run(lambda c: _set_pending(c, started, ended))

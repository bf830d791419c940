"""Log statements of the SQLite store (:class:`hub.store.logs.LogStore`).

Lines are rows of ``log_lines``; their messages are indexed by ``log_text``, an external-content FTS5 table
over ``log_lines.message`` that triggers keep in step (an insert indexes the message, a delete takes it out),
so every path that writes or removes lines, retention and device deletion alike, keeps the index true. Text
search is a lookup in the index, never a scan of messages; the filters by node, deployment, tenant and time
each have an index on ``(column, ts)`` (schema version 11, hub/store/sqlite/migrations.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

from hub.errors import InvalidInput
from hub.store.logs import LogQuery, NewLine, StoredLine, search_expression
from hub.store.sqlite.connections import transaction
from hub.store.sqlite.database import SqliteDatabase
from hub.store.sqlite.where import Where

_COLUMNS = (
    "l.id, l.tenant, l.node, l.ts, l.level, l.logger, l.message, l.app, l.version, l.deployment, l.instance,"
    " l.service, l.stream"
)
_INSERT = (
    "INSERT INTO log_lines(tenant, node, ts, level, logger, message, app, version, deployment, instance, service,"
    " stream) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
#: What SQLite says of a text query it cannot take (its syntax, a column it does not have, an FTS5 option).
_QUERY_PROBLEMS = ("fts5", "no such column", "unknown special query", "malformed MATCH", "unterminated string")


def _row(row: Sequence[Any]) -> StoredLine:
    return StoredLine(*row)


def _values(line: NewLine) -> tuple[Any, ...]:
    return (
        line.tenant,
        line.node,
        line.ts,
        line.level,
        line.logger,
        line.message,
        line.app,
        line.version,
        line.deployment,
        line.instance,
        line.service,
        line.stream,
    )


def _where(query: LogQuery) -> Where:
    where = Where()
    where.equals("l.tenant", query.tenant).equals("l.node", query.node)
    where.equals("l.deployment", query.deployment).equals("l.app", query.app)
    if query.min_level > 0:
        where.add("l.level >= ?", query.min_level)
    if query.start is not None:
        where.add("l.ts >= ?", query.start)
    if query.end is not None:
        where.add("l.ts < ?", query.end)
    if query.after is not None:
        where.add("l.id > ?", query.after)
    return where


def _select(query: LogQuery) -> tuple[str, list[Any]]:
    """The statement and arguments of a search.

    With text, the index drives: its matches come in rowid (store) order, newest first unless ascending, and the
    filters are checked on each until ``limit`` pass, so a common word costs no more than the lines it returns.
    Ordering text matches by time instead would read every match before the first could be returned. Without
    text, lines come by time through the filters' ``(column, ts)`` indexes.
    """
    where = _where(query)
    text = search_expression(query.text or "")
    descending = query.descending and query.after is None
    if text:
        where.add("log_text MATCH ?", text)
        if query.after is not None:  # a tail's poll: only the newest part of the index
            where.add("log_text.rowid > ?", query.after)
        order = "log_text.rowid DESC" if descending else "log_text.rowid"
        source = "log_text CROSS JOIN log_lines AS l ON l.id = log_text.rowid"
    else:
        source = "log_lines AS l"
        if query.after is not None:
            order = "l.id"
        elif query.stored_order:
            order = "l.id DESC" if descending else "l.id"
        else:
            order = "l.ts DESC, l.id DESC" if descending else "l.ts, l.id"
    sql = f"SELECT {_COLUMNS} FROM {source} {where.sql} ORDER BY {order} LIMIT ?"  # noqa: S608 - constants only
    return sql, [*where.args, query.limit]


class SqliteLogs:
    """Every stored line in ``log_lines``, its message indexed in ``log_text`` (FTS5)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def append(self, lines: Sequence[NewLine]) -> None:
        if not lines:
            return
        rows = [_values(line) for line in lines]

        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.executemany(_INSERT, rows)

        await self._db.writer.run(run)

    async def search(self, query: LogQuery) -> list[StoredLine]:
        sql, args = _select(query)

        def run(conn: sqlite3.Connection) -> list[StoredLine]:
            try:
                return [_row(row) for row in conn.execute(sql, args)]
            except sqlite3.OperationalError as exc:
                problem = str(exc)
                if query.text and any(word in problem for word in _QUERY_PROBLEMS):
                    raise InvalidInput(f"q: {problem.removeprefix('fts5: ')}") from None
                raise

        return await self._db.readers.run(run)

    async def last_id(self) -> int:
        row = await self._db.readers.run(lambda c: c.execute("SELECT max(id) FROM log_lines").fetchone())
        return int(row[0] or 0)

    async def count(self) -> int:
        row = await self._db.readers.run(lambda c: c.execute("SELECT count(*) FROM log_lines").fetchone())
        return int(row[0])

    async def older_than(
        self, ts: int, limit: int, *, tenant: str | None = None, other_than: Collection[str] = ()
    ) -> list[StoredLine]:
        where = Where().equals("l.tenant", tenant)
        where.add("l.ts < ?", ts)
        if other_than:
            where.add(f"l.tenant NOT IN ({', '.join('?' * len(other_than))})", *other_than)
        sql = f"SELECT {_COLUMNS} FROM log_lines AS l {where.sql} ORDER BY l.ts LIMIT ?"  # noqa: S608 - constants only
        rows = await self._db.readers.run(lambda c: c.execute(sql, [*where.args, limit]).fetchall())
        return [_row(row) for row in rows]

    async def beyond(self, keep: int, limit: int) -> list[StoredLine]:
        # The newest ``keep`` lines by id end at the keep-th id from the top; everything up to the one below it goes.
        sql = (
            f"SELECT {_COLUMNS} FROM log_lines AS l WHERE id <= "  # noqa: S608 - constants only
            "(SELECT id FROM log_lines ORDER BY id DESC LIMIT 1 OFFSET ?) ORDER BY id LIMIT ?"
        )
        rows = await self._db.readers.run(lambda c: c.execute(sql, (keep, limit)).fetchall())
        return [_row(row) for row in rows]

    async def delete(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        rows = [(i,) for i in ids]

        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.executemany("DELETE FROM log_lines WHERE id = ?", rows)

        await self._db.writer.run(run)

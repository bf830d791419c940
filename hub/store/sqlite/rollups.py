"""Rollups of the SQLite store: a ``rollups`` row per series, span and span start (see :mod:`hub.store.rollups`).

Every write adds the summaries of the points it stored with one upsert per batch, inside the write's transaction,
so rollups never disagree with the points. ``low`` and ``high`` are NULL while a span holds no number.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from hub.store.columns import Columns, decode
from hub.store.rollups import Plan, summarize_spans

_UPSERT = (
    "INSERT INTO rollups(series, span, start, n, nums, total, low, high) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(series, span, start) DO UPDATE SET n = n + excluded.n, nums = nums + excluded.nums, "
    "total = total + excluded.total, "
    # SQLite's min() and max() of a NULL are NULL: a span's first number must not be lost to that.
    "low = coalesce(min(low, excluded.low), low, excluded.low), "
    "high = coalesce(max(high, excluded.high), high, excluded.high)"
)


def add(conn: sqlite3.Connection, stored: Sequence[tuple[int, Columns]]) -> None:
    """Add the points just stored, ``(series, columns)``, to the rollups of every span (in the caller's
    transaction)."""
    rows = [
        (series, span, start, *summary)
        for series, columns in stored
        for span, start, summary in summarize_spans(columns.ts, columns.nums)
    ]
    conn.executemany(_UPSERT, rows)


def read(
    conn: sqlite3.Connection, series: int, plan: Plan, interval_ms: int
) -> list[tuple[int, int, int, float, float | None, float | None]]:
    """The rollups of ``series`` that ``plan`` reads, added up per bucket of ``interval_ms`` in SQL:
    ``(bucket_start, n, nums, sum, min, max)``."""
    bounds = (
        series,
        plan.span,
        -(2**63) if plan.first is None else plan.first,
        2**63 - 1 if plan.last is None else plan.last,
    )
    where = "WHERE series = ? AND span = ? AND start >= ? AND start < ?"
    if interval_ms == plan.span:  # a bucket per rollup: no grouping, only the index scan
        return conn.execute(f"SELECT start, n, nums, total, low, high FROM rollups {where}", bounds).fetchall()  # noqa: S608
    # Stored times are after 1970, so SQLite's integer division (towards zero) floors as Python's does. The plain
    # ``?`` after ``?1`` number on from 2.
    rows = conn.execute(
        "SELECT start / ?1 * ?1 AS bucket, sum(n), sum(nums), sum(total), min(low), max(high) FROM rollups "  # noqa: S608
        f"{where} GROUP BY bucket",
        (interval_ms, *bounds),
    )
    return rows.fetchall()


def drop(conn: sqlite3.Connection, span: int, before: int) -> int:
    """Delete the rollups of ``span`` whose span starts before ``before``; how many went."""
    return conn.execute("DELETE FROM rollups WHERE span = ? AND start < ?", (span, before)).rowcount


def delete_series(conn: sqlite3.Connection, series_ids: Sequence[int]) -> None:
    conn.executemany("DELETE FROM rollups WHERE series = ?", [(i,) for i in series_ids])


def build(conn: sqlite3.Connection) -> None:
    """Roll up every stored chunk (the migration that brought rollups in)."""
    # Chunk by chunk: the points of a large store do not fit in memory at once.
    for series, blob in conn.execute("SELECT series, data FROM chunks ORDER BY series, min_ts"):
        add(conn, [(series, decode(blob))])

"""Telemetry chunks as SQLite rows: one row per series and write, its points packed by :mod:`hub.store.columns`."""

from __future__ import annotations

import sqlite3

from hub.store.columns import Columns, encode


def insert(conn: sqlite3.Connection, series: int, columns: Columns) -> None:
    """Write ``columns`` as one or more chunk rows of ``series`` (inside the caller's transaction)."""
    for part in columns.parts():
        conn.execute(
            "INSERT INTO chunks(series, min_ts, max_ts, min_ident, max_ident, n, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (series, min(part.ts), max(part.ts), min(part.idents), max(part.idents), len(part), encode(part)),
        )

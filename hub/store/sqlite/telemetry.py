"""Telemetry statements of the SQLite store: batched point writes, range and bucket queries."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from contracts.telemetry import Value
from hub.store.base import AggFn, AggregateQuery, DeviceReadings, RangeQuery, WriteResult
from hub.store.sqlite.connections import transaction

_AGG_SQL = {
    AggFn.AVG: "avg(num)",
    AggFn.MIN: "min(num)",
    AggFn.MAX: "max(num)",
    AggFn.SUM: "sum(num)",
    AggFn.COUNT: "count(*)",
}


def encode(value: Value) -> tuple[int, float | None, str | None]:
    """Split a value into the (vtype, num, txt) columns."""
    if isinstance(value, bool):
        return 1, float(value), None
    if isinstance(value, str):
        return 2, None, value
    return 0, value, None


def decode(vtype: int, num: float | None, txt: str | None) -> Value:
    """Inverse of :func:`encode`."""
    if vtype == 1:
        return bool(num)
    if vtype == 2:
        return txt or ""
    return float(num or 0.0)


class SeriesCache:
    """Maps (device, key) to the integer series id; lives on the writer thread only."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], int] = {}

    def resolve(self, conn: sqlite3.Connection, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        missing = [pair for pair in pairs if pair not in self._ids]
        if missing:
            conn.executemany("INSERT OR IGNORE INTO series(device_id, key) VALUES (?, ?)", missing)
            for device_id, key in missing:
                row = conn.execute("SELECT id FROM series WHERE device_id = ? AND key = ?", (device_id, key)).fetchone()
                self._ids[(device_id, key)] = row[0]
        return self._ids

    def clear(self) -> None:
        self._ids.clear()

    def forget_device(self, device_id: str) -> None:
        for pair in [p for p in self._ids if p[0] == device_id]:
            del self._ids[pair]


def write_points(
    conn: sqlite3.Connection, cache: SeriesCache, batches: Sequence[DeviceReadings], seen: dict[str, int]
) -> WriteResult:
    """Insert a batch in one transaction; duplicates by (series, ident) are ignored."""
    try:
        with transaction(conn):
            ids = cache.resolve(conn, {(b.device_id, r.key) for b in batches for r in b.readings})
            rows = []
            newest: dict[int, tuple[int, int, float | None, str | None]] = {}
            points = 0
            for device_id, readings in batches:
                points += len(readings)
                for key, ts, value, seq in readings:
                    series = ids[device_id, key]
                    # encode(), inlined: this loop runs for every point stored.
                    encoded = (0, value, None) if isinstance(value, float) else encode(value)
                    vtype, num, txt = encoded
                    rows.append((series, seq if seq is not None else -1 - ts, ts, vtype, num, txt))
                    current = newest.get(series)
                    if current is None or ts >= current[0]:
                        newest[series] = (ts, vtype, num, txt)
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO points(series, ident, ts, vtype, num, txt) VALUES (?, ?, ?, ?, ?, ?)", rows
            )
            stored = conn.total_changes - before
            conn.executemany(
                "INSERT INTO latest(series, ts, vtype, num, txt) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(series) DO UPDATE SET ts = excluded.ts, vtype = excluded.vtype, "
                "num = excluded.num, txt = excluded.txt WHERE excluded.ts >= latest.ts",
                [(series, *row) for series, row in newest.items()],
            )
            conn.executemany(
                "UPDATE devices SET last_seen = max(coalesce(last_seen, 0), ?) WHERE id = ?",
                [(ts, device_id) for device_id, ts in seen.items()],
            )
    except BaseException:
        # Series created in the rolled-back transaction are gone; their cached ids would be reused.
        cache.clear()
        raise
    return WriteResult(stored=stored, duplicates=points - stored)


def _series_id(conn: sqlite3.Connection, device_id: str, key: str) -> int | None:
    row = conn.execute("SELECT id FROM series WHERE device_id = ? AND key = ?", (device_id, key)).fetchone()
    return None if row is None else int(row[0])


def _where(query: RangeQuery, series: int) -> tuple[str, list[object]]:
    clauses: list[str] = ["series = ?"]
    args: list[object] = [series]
    if query.start is not None:
        clauses.append("ts >= ?")
        args.append(query.start)
    if query.end is not None:
        clauses.append("ts < ?")
        args.append(query.end)
    return " AND ".join(clauses), args


def query_range(conn: sqlite3.Connection, query: RangeQuery) -> list[tuple[int, Value]]:
    """Raw points of one series, oldest or newest first."""
    series = _series_id(conn, query.device_id, query.key)
    if series is None:
        return []
    where, args = _where(query, series)
    order = "DESC" if query.descending else "ASC"
    rows = conn.execute(
        f"SELECT ts, vtype, num, txt FROM points WHERE {where} ORDER BY ts {order} LIMIT ?",  # noqa: S608 - fixed fragments
        [*args, query.limit],
    ).fetchall()
    return [(ts, decode(vtype, num, txt)) for ts, vtype, num, txt in rows]


def query_aggregate(conn: sqlite3.Connection, query: AggregateQuery) -> list[tuple[int, float]]:
    """Epoch-aligned buckets of one series; numeric aggregates skip string values."""
    series = _series_id(conn, query.range.device_id, query.range.key)
    if series is None:
        return []
    where, args = _where(query.range, series)
    order = "DESC" if query.range.descending else "ASC"
    iv = query.interval_ms
    rows = conn.execute(
        f"SELECT (ts / ?) * ? AS bucket, {_AGG_SQL[query.fn]} FROM points WHERE {where} "  # noqa: S608
        f"GROUP BY bucket ORDER BY bucket {order} LIMIT ?",
        [iv, iv, *args, query.range.limit],
    ).fetchall()
    return [(int(bucket), float(agg)) for bucket, agg in rows if agg is not None]


def latest(conn: sqlite3.Connection, device_id: str) -> dict[str, tuple[int, Value]]:
    """Latest value per key of a device."""
    rows = conn.execute(
        "SELECT s.key, l.ts, l.vtype, l.num, l.txt FROM latest l JOIN series s ON s.id = l.series "
        "WHERE s.device_id = ? ORDER BY s.key",
        (device_id,),
    ).fetchall()
    return {key: (ts, decode(vtype, num, txt)) for key, ts, vtype, num, txt in rows}


def delete_device_data(conn: sqlite3.Connection, device_id: str) -> None:
    """Remove every series of a device with its points and latest values (inside a transaction)."""
    ids = [row[0] for row in conn.execute("SELECT id FROM series WHERE device_id = ?", (device_id,))]
    conn.executemany("DELETE FROM points WHERE series = ?", [(i,) for i in ids])
    conn.executemany("DELETE FROM latest WHERE series = ?", [(i,) for i in ids])
    conn.execute("DELETE FROM series WHERE device_id = ?", (device_id,))

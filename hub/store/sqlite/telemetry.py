"""Telemetry of the SQLite store: chunked point writes, range and bucket queries (:class:`SqliteTelemetry`)."""

from __future__ import annotations

import asyncio
import math
import sqlite3
from collections.abc import Callable, Sequence
from itertools import groupby

from contracts.telemetry import ReadingColumns, Value
from hub.clock import now_ms
from hub.store.sqlite import chunks, outbox
from hub.store.sqlite.connections import transaction
from hub.store.sqlite.database import SqliteDatabase
from hub.store.telemetry import AggFn, AggregateQuery, Message, RangeQuery, WriteResult

_AGG: dict[AggFn, Callable[[list[float]], float]] = {
    AggFn.AVG: lambda values: math.fsum(values) / len(values),
    AggFn.MIN: min,
    AggFn.MAX: max,
    AggFn.SUM: math.fsum,
}


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
    conn: sqlite3.Connection,
    cache: SeriesCache,
    batch: Sequence[Message],
    compactor: Compactor,
    now: int,
    *,
    to_outbox: bool,
) -> WriteResult:
    """Store a batch in one transaction as one chunk per series, and append it to the outbox.

    Points already stored are dropped.
    """
    seen: dict[str, int] = {}
    for message in batch:
        seen[message.device_id] = max(message.received, seen.get(message.device_id, 0))
    try:
        with transaction(conn):
            grouped = [(m.device_id, _by_key(ReadingColumns.of(m.readings))) for m in batch]
            ids = cache.resolve(conn, {(device_id, key) for device_id, groups in grouped for key, _ in groups})
            by_series: dict[int, list[ReadingColumns]] = {}
            for device_id, groups in grouped:
                for key, part in groups:
                    by_series.setdefault(ids[device_id, key], []).append(part)
            points = sum(len(m.readings) for m in batch)
            pending = {series: chunks.Columns.of(ReadingColumns.joined(parts)) for series, parts in by_series.items()}
            stored = sum(_insert(conn, series, columns) for series, columns in pending.items())
            for series, columns in pending.items():
                compactor.note(series, len(columns))
            conn.executemany(
                "INSERT INTO latest(series, ts, vtype, num, txt) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(series) DO UPDATE SET ts = excluded.ts, vtype = excluded.vtype, "
                "num = excluded.num, txt = excluded.txt WHERE excluded.ts >= latest.ts",
                [(series, *_newest(columns)) for series, columns in pending.items()],
            )
            conn.executemany(
                "UPDATE devices SET last_seen = max(coalesce(last_seen, 0), ?) WHERE id = ?",
                [(ts, device_id) for device_id, ts in seen.items()],
            )
            position = outbox.append(conn, batch, now) if to_outbox else None
    except BaseException:
        # Series created in the rolled-back transaction are gone; their cached ids would be reused.
        cache.clear()
        raise
    return WriteResult(stored=stored, duplicates=points - stored, position=position)


def _by_key(readings: ReadingColumns) -> list[tuple[str, ReadingColumns]]:
    """The readings of one message by sensor, each sensor's in arrival order (sorted in C, not per reading)."""
    keys = readings.keys
    if not keys:
        return []
    if keys.count(keys[0]) == len(keys):
        return [(keys[0], readings)]
    order = sorted(range(len(keys)), key=keys.__getitem__)  # stable: arrival order within a sensor
    return [(key, readings.pick(list(at))) for key, at in groupby(order, keys.__getitem__)]


def _newest(columns: chunks.Columns) -> tuple[int, int, float | None, str | None]:
    """The latest-value row of a chunk: its newest point (the first of equal timestamps)."""
    newest = columns.ts.index(max(columns.ts))
    texts = columns.text_positions() if columns.vtypes[newest] == chunks.STRING else {}
    return (columns.ts[newest], *chunks.encode_value(columns.value(newest, texts)))


def _insert(conn: sqlite3.Connection, series: int, columns: chunks.Columns) -> int:
    """Write the points of ``columns`` that the series does not hold yet; return how many."""
    idents = columns.idents
    lowest, highest = min(idents), max(idents)
    # Ingest writes rising idents, so this range query usually finds nothing and costs one index seek.
    stored: set[int] = set()
    for (blob,) in conn.execute(
        "SELECT data FROM chunks WHERE series = ? AND max_ident >= ? AND min_ident <= ?", (series, lowest, highest)
    ):
        stored.update(chunks.decode(blob).idents)
    unique = set(idents)
    if len(unique) != len(idents) or not unique.isdisjoint(stored):
        keep, seen_here = [], set()
        for i, point_ident in enumerate(idents):
            if point_ident not in stored and point_ident not in seen_here:
                seen_here.add(point_ident)
                keep.append(i)
        columns = columns.select(keep)
    if len(columns):
        chunks.insert(conn, series, columns)
    return len(columns)


class Compactor:
    """Merges the small chunks that low-rate series leave behind (lives on the writer thread).

    A device sending one reading every few seconds gets a chunk per reading; left alone, such
    series would cost a row per point again, and a query would decode thousands of tiny chunks.
    Once a series has written ``every`` small chunks, its small chunks are merged, in time order.
    """

    SMALL = 256
    MERGE_AT_MOST = 1024

    def __init__(self, every: int = 64) -> None:
        self._every = every
        self._small_writes: dict[int, int] = {}

    def note(self, series: int, points: int) -> None:
        if points < self.SMALL:
            self._small_writes[series] = self._small_writes.get(series, 0) + 1

    def due(self) -> bool:
        return any(count >= self._every for count in self._small_writes.values())

    def compact(self, conn: sqlite3.Connection) -> int:
        """Merge the small chunks of every series that is due; return how many chunk rows went away."""
        removed = 0
        for series in [s for s, count in self._small_writes.items() if count >= self._every]:
            del self._small_writes[series]
            with transaction(conn):
                picked = conn.execute(
                    "SELECT id, data FROM chunks WHERE series = ? AND n < ? ORDER BY min_ts LIMIT ?",
                    (series, self.SMALL, self.MERGE_AT_MOST),
                ).fetchall()
                if len(picked) < 2:
                    continue
                # Column by column in C: merging point by point held the writer (and ingest behind it) for
                # tens of milliseconds per series.
                merged = chunks.Columns.concat([chunks.decode(blob) for _, blob in picked]).in_order()
                conn.executemany("DELETE FROM chunks WHERE id = ?", [(row_id,) for row_id, _ in picked])
                chunks.insert(conn, series, merged)
                removed += len(picked) - -(-len(merged) // chunks.MAX_POINTS)
        return removed


def _series_id(conn: sqlite3.Connection, device_id: str, key: str) -> int | None:
    row = conn.execute("SELECT id FROM series WHERE device_id = ? AND key = ?", (device_id, key)).fetchone()
    return None if row is None else int(row[0])


_LOWEST, _HIGHEST = -(2**63), 2**63 - 1


def _points(
    conn: sqlite3.Connection, query: RangeQuery, series: int, *, enough: int | None
) -> list[tuple[int, chunks.Columns, int, dict[int, str]]]:
    """Points of ``series`` in the query's time range as (ts, chunk, index, texts), in chunk order.

    With ``enough``, stops reading chunks once ``enough`` points are found that no later chunk can
    come before (chunks are read by start time, or by end time for descending queries).
    """
    start = _LOWEST if query.start is None else query.start
    end = _HIGHEST if query.end is None else query.end
    order = "max_ts DESC" if query.descending else "min_ts ASC"
    rows = conn.execute(
        f"SELECT min_ts, max_ts, data FROM chunks WHERE series = ? AND max_ts >= ? AND min_ts < ? ORDER BY {order}",  # noqa: S608 - fixed fragments
        (series, start, end),
    )
    found: list[tuple[int, chunks.Columns, int, dict[int, str]]] = []
    for min_ts, max_ts, blob in rows:
        if enough is not None and len(found) >= enough:
            ordered = sorted(ts for ts, *_ in found)
            if query.descending and max_ts < ordered[-enough]:
                break
            if not query.descending and min_ts > ordered[enough - 1]:
                break
        columns = chunks.decode(blob)
        texts = columns.text_positions()
        found.extend((ts, columns, i, texts) for i, ts in enumerate(columns.ts) if start <= ts < end)
    return found


def query_range(conn: sqlite3.Connection, query: RangeQuery) -> list[tuple[int, Value]]:
    """Raw points of one series, oldest or newest first."""
    series = _series_id(conn, query.device_id, query.key)
    if series is None:
        return []
    found = _points(conn, query, series, enough=query.limit)
    # Equal times are ordered by ident (the seq), whichever chunk holds them.
    found.sort(key=lambda point: (point[0], point[1].idents[point[2]]), reverse=query.descending)
    return [(ts, columns.value(i, texts)) for ts, columns, i, texts in found[: query.limit]]


def query_aggregate(conn: sqlite3.Connection, query: AggregateQuery) -> list[tuple[int, float]]:
    """Epoch-aligned buckets of one series; numeric aggregates skip string values."""
    series = _series_id(conn, query.range.device_id, query.range.key)
    if series is None:
        return []
    iv = query.interval_ms
    numbers: dict[int, list[float]] = {}
    counts: dict[int, int] = {}
    for ts, columns, i, _ in _points(conn, query.range, series, enough=None):
        bucket = ts // iv * iv
        counts[bucket] = counts.get(bucket, 0) + 1
        if columns.vtypes[i] != chunks.STRING:
            numbers.setdefault(bucket, []).append(columns.nums[i])
    result = []
    for bucket in sorted(counts, reverse=query.range.descending):
        if query.fn is AggFn.COUNT:
            result.append((bucket, float(counts[bucket])))
        elif bucket in numbers:
            result.append((bucket, _AGG[query.fn](numbers[bucket])))
        if len(result) == query.range.limit:
            break
    return result


def latest(conn: sqlite3.Connection, device_id: str) -> dict[str, tuple[int, Value]]:
    """Latest value per key of a device."""
    rows = conn.execute(
        "SELECT s.key, l.ts, l.vtype, l.num, l.txt FROM latest l JOIN series s ON s.id = l.series "
        "WHERE s.device_id = ? ORDER BY s.key",
        (device_id,),
    ).fetchall()
    return {key: (ts, chunks.decode_value(vtype, num, txt)) for key, ts, vtype, num, txt in rows}


# Older SQLite builds allow 999 bound variables per statement; a chunk of ids stays well below.
_IDS_PER_QUERY = 500


def last_heard(conn: sqlite3.Connection, device_ids: Sequence[str], key: str | None) -> dict[str, int]:
    """Per device, its newest reading of ``key`` (the latest-values row) or, without a key, its last seen."""
    heard: dict[str, int] = {}
    for at in range(0, len(device_ids), _IDS_PER_QUERY):
        ids = list(device_ids[at : at + _IDS_PER_QUERY])
        marks = ", ".join("?" * len(ids))
        if key is None:
            sql = f"SELECT id, last_seen FROM devices WHERE id IN ({marks}) AND last_seen IS NOT NULL"  # noqa: S608
            args = ids
        else:
            # One seek of series' (device_id, key) index per device, then the latest row by its series id.
            sql = (
                "SELECT s.device_id, l.ts FROM series s JOIN latest l ON l.series = s.id "  # noqa: S608 - marks only
                f"WHERE s.key = ? AND s.device_id IN ({marks})"
            )
            args = [key, *ids]
        heard.update(conn.execute(sql, args).fetchall())
    return heard


def delete_device_data(conn: sqlite3.Connection, device_id: str) -> None:
    """Remove every series of a device with its points and latest values (inside a transaction)."""
    ids = [row[0] for row in conn.execute("SELECT id FROM series WHERE device_id = ?", (device_id,))]
    conn.executemany("DELETE FROM chunks WHERE series = ?", [(i,) for i in ids])
    conn.executemany("DELETE FROM latest WHERE series = ?", [(i,) for i in ids])
    conn.execute("DELETE FROM series WHERE device_id = ?", (device_id,))


class SqliteTelemetry:
    """Points in chunks, latest values and the outbox append, on the database's writer thread."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        self._series = SeriesCache()
        self._compactor = Compactor()
        self._compacting: asyncio.Task[int] | None = None
        db.on_close(self._merged)

    async def _merged(self) -> None:
        if self._compacting is not None:
            await asyncio.wait([self._compacting])  # a merge in progress finishes: it holds the writer thread

    def forget_device(self, device_id: str) -> None:
        """The device's series are gone (call on the writer thread, inside the delete)."""
        self._series.forget_device(device_id)

    async def write_points(self, batch: Sequence[Message], *, outbox: bool = True) -> WriteResult:
        now = now_ms()

        def write(conn: sqlite3.Connection) -> tuple[WriteResult, bool]:
            result = write_points(conn, self._series, batch, self._compactor, now, to_outbox=outbox)
            return result, self._compactor.due()

        result, due = await self._db.writer.run(write)
        if due and (self._compacting is None or self._compacting.done()):
            # After the write is acknowledged, on the same writer thread: ingest waits for it at most once.
            compact = self._db.writer.run(self._compactor.compact)
            self._compacting = self._db.background.spawn(compact, name="sqlite-compact")
        return result

    async def query_range(self, query: RangeQuery) -> list[tuple[int, Value]]:
        return await self._db.readers.run(lambda c: query_range(c, query))

    async def query_aggregate(self, query: AggregateQuery) -> list[tuple[int, float]]:
        return await self._db.readers.run(lambda c: query_aggregate(c, query))

    async def latest(self, device_id: str) -> dict[str, tuple[int, Value]]:
        return await self._db.readers.run(lambda c: latest(c, device_id))

    async def last_heard(self, device_ids: Sequence[str], key: str | None) -> dict[str, int]:
        return await self._db.readers.run(lambda c: last_heard(c, device_ids, key))

"""Telemetry of the SQLite store: chunked point writes, range and bucket queries (:class:`SqliteTelemetry`)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from functools import partial

from contracts.telemetry import ReadingColumns, Value
from hub.clock import now_ms
from hub.errors import InvalidInput
from hub.store.columns import (
    HIGHEST,
    LOWEST,
    MAX_POINTS,
    Columns,
    RangeScan,
    SmallChunks,
    by_key,
    decode,
    decode_value,
    encode_value,
)
from hub.store.rollups import Buckets, Plan, plan
from hub.store.sqlite import chunks, outbox, rollups
from hub.store.sqlite.connections import transaction
from hub.store.sqlite.database import SqliteDatabase
from hub.store.telemetry import ROLLUP_SPANS, AggregateQuery, Message, RangeQuery, Summary, WriteResult


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
    """Store a batch in one transaction as one chunk per series, add it to the rollups, and append it to the
    outbox.

    Points already stored are dropped.
    """
    seen: dict[str, int] = {}
    for message in batch:
        seen[message.device_id] = max(message.received, seen.get(message.device_id, 0))
    try:
        with transaction(conn):
            grouped = [(m.device_id, by_key(ReadingColumns.of(m.readings))) for m in batch]
            ids = cache.resolve(conn, {(device_id, key) for device_id, groups in grouped for key, _ in groups})
            by_series: dict[int, list[ReadingColumns]] = {}
            for device_id, groups in grouped:
                for key, part in groups:
                    by_series.setdefault(ids[device_id, key], []).append(part)
            points = sum(len(m.readings) for m in batch)
            pending = {series: Columns.of(ReadingColumns.joined(parts)) for series, parts in by_series.items()}
            new = [(series, _insert(conn, series, columns)) for series, columns in pending.items()]
            rollups.add(conn, [(series, columns) for series, columns in new if len(columns)])
            stored = sum(len(columns) for _, columns in new)
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


def _newest(columns: Columns) -> tuple[int, int, float | None, str | None]:
    """The latest-value row of a chunk: its newest point (the first of equal timestamps)."""
    ts, value = columns.newest()
    return (ts, *encode_value(value))


def _insert(conn: sqlite3.Connection, series: int, columns: Columns) -> Columns:
    """Write the points of ``columns`` that the series does not hold yet; return those."""
    idents = columns.idents
    lowest, highest = min(idents), max(idents)
    # Ingest writes rising idents, so this range query usually finds nothing and costs one index seek.
    stored: set[int] = set()
    for (blob,) in conn.execute(
        "SELECT data FROM chunks WHERE series = ? AND max_ident >= ? AND min_ident <= ?", (series, lowest, highest)
    ):
        stored.update(decode(blob).idents)
    columns = columns.without(stored)
    if len(columns):
        chunks.insert(conn, series, columns)
    return columns


class Compactor(SmallChunks[int]):
    """Merges the small chunks of the series that are due (lives on the writer thread)."""

    def compact(self, conn: sqlite3.Connection) -> int:
        """Merge the small chunks of every series that is due; return how many chunk rows went away."""
        removed = 0
        for series in self.take_due():
            with transaction(conn):
                picked = conn.execute(
                    "SELECT id, data FROM chunks WHERE series = ? AND n < ? ORDER BY min_ts LIMIT ?",
                    (series, self.SMALL, self.MERGE_AT_MOST),
                ).fetchall()
                if len(picked) < 2:
                    continue
                # Column by column in C: merging point by point held the writer (and ingest behind it) for
                # tens of milliseconds per series.
                merged = Columns.concat([decode(blob) for _, blob in picked]).in_order()
                conn.executemany("DELETE FROM chunks WHERE id = ?", [(row_id,) for row_id, _ in picked])
                chunks.insert(conn, series, merged)
                removed += len(picked) - -(-len(merged) // MAX_POINTS)
        return removed


def _series_id(conn: sqlite3.Connection, device_id: str, key: str) -> int | None:
    row = conn.execute("SELECT id FROM series WHERE device_id = ? AND key = ?", (device_id, key)).fetchone()
    return None if row is None else int(row[0])


def query_range(conn: sqlite3.Connection, query: RangeQuery) -> list[tuple[int, Value]]:
    """Raw points of one series, oldest or newest first."""
    return [(ts, value) for ts, _, value in identified_points(conn, query)]


def identified_points(conn: sqlite3.Connection, query: RangeQuery) -> list[tuple[int, int, Value]]:
    """Raw points of one series with their idents, oldest or newest first."""
    series = _series_id(conn, query.device_id, query.key)
    if series is None:
        return []
    scan = RangeScan(query.start, query.end, descending=query.descending, enough=query.limit)
    order = "max_ts DESC" if query.descending else "min_ts ASC"
    rows = conn.execute(
        f"SELECT min_ts, max_ts, data FROM chunks WHERE series = ? AND max_ts >= ? AND min_ts < ? ORDER BY {order}",  # noqa: S608 - fixed fragments
        (series, scan.start, scan.end),
    )
    for min_ts, max_ts, blob in rows:
        if scan.complete(min_ts, max_ts):
            break
        scan.add(decode(blob))
    return scan.identified(query.limit)


def query_aggregate(conn: sqlite3.Connection, query: AggregateQuery, *, use_rollups: bool) -> list[tuple[int, float]]:
    """Epoch-aligned buckets of one series; numeric aggregates skip string values. Whole spans come from the
    rollups where the interval allows (unless ``use_rollups`` is off), the rest from raw points."""
    wanted = query.range
    series = _series_id(conn, wanted.device_id, wanted.key)
    if series is None:
        return []
    buckets = Buckets(query.interval_ms)
    how = plan(wanted.start, wanted.end, query.interval_ms) if use_rollups else None
    if how is None:
        _add_raw(conn, series, wanted.start, wanted.end, buckets)
    else:
        buckets.add_figures(rollups.read(conn, series, how, query.interval_ms))
        if how.first is not None:
            _add_raw(conn, series, wanted.start, how.first, buckets)
        if how.last is not None:
            _add_raw(conn, series, how.last, wanted.end, buckets)
    return buckets.result(query.fn, descending=wanted.descending, limit=wanted.limit)


def _add_raw(conn: sqlite3.Connection, series: int, start: int | None, end: int | None, buckets: Buckets) -> None:
    """Add the raw points of ``series`` in ``[start, end)`` to ``buckets``, a chunk at a time."""
    low = LOWEST if start is None else start
    high = HIGHEST if end is None else end
    if low >= high:  # an aggregate's edge that falls on a span boundary: no partial span to read
        return
    rows = conn.execute(
        "SELECT min_ts, max_ts, data FROM chunks WHERE series = ? AND max_ts >= ? AND min_ts < ?", (series, low, high)
    )
    for min_ts, max_ts, blob in rows:
        columns = decode(blob)
        if low <= min_ts and max_ts < high:
            buckets.add_points(columns.ts, columns.nums)
        else:
            inside = [i for i, ts in enumerate(columns.ts) if low <= ts < high]
            buckets.add_points([columns.ts[i] for i in inside], [columns.nums[i] for i in inside])


def latest(conn: sqlite3.Connection, device_id: str) -> dict[str, tuple[int, Value]]:
    """Latest value per key of a device."""
    rows = conn.execute(
        "SELECT s.key, l.ts, l.vtype, l.num, l.txt FROM latest l JOIN series s ON s.id = l.series "
        "WHERE s.device_id = ? ORDER BY s.key",
        (device_id,),
    ).fetchall()
    return {key: (ts, decode_value(vtype, num, txt)) for key, ts, vtype, num, txt in rows}


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
    """Remove every series of a device with its points, rollups and latest values (inside a transaction)."""
    ids = [row[0] for row in conn.execute("SELECT id FROM series WHERE device_id = ?", (device_id,))]
    conn.executemany("DELETE FROM chunks WHERE series = ?", [(i,) for i in ids])
    conn.executemany("DELETE FROM latest WHERE series = ?", [(i,) for i in ids])
    rollups.delete_series(conn, ids)
    conn.execute("DELETE FROM series WHERE device_id = ?", (device_id,))


class SqliteTelemetry:
    """Points in chunks, latest values and the outbox append, on the database's writer thread."""

    def __init__(self, db: SqliteDatabase, *, use_rollups: bool = True) -> None:
        """``use_rollups`` off answers every aggregate from raw points (a baseline to measure rollups against)."""
        self._db = db
        self._use_rollups = use_rollups
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

    async def identified_points(self, query: RangeQuery) -> list[tuple[int, int, Value]]:
        return await self._db.readers.run(lambda c: identified_points(c, query))

    async def rollups_until(self, device_id: str, key: str, span_ms: int, end: int) -> list[tuple[int, Summary]]:
        def run(conn: sqlite3.Connection) -> list[tuple[int, Summary]]:
            series = _series_id(conn, device_id, key)
            if series is None:
                return []
            rows = rollups.read(conn, series, Plan(span_ms, None, end // span_ms * span_ms), span_ms)
            return [(start, Summary(n, nums, total, low, high)) for start, n, nums, total, low, high in rows]

        return await self._db.readers.run(run)

    async def query_aggregate(self, query: AggregateQuery) -> list[tuple[int, float]]:
        return await self._db.readers.run(lambda c: query_aggregate(c, query, use_rollups=self._use_rollups))

    async def latest(self, device_id: str) -> dict[str, tuple[int, Value]]:
        return await self._db.readers.run(lambda c: latest(c, device_id))

    async def last_heard(self, device_ids: Sequence[str], key: str | None) -> dict[str, int]:
        return await self._db.readers.run(lambda c: last_heard(c, device_ids, key))

    async def drop_raw(self, tenant: str, before: int) -> int:
        series_ids = await self._db.readers.run(
            lambda c: [
                row[0]
                for row in c.execute(
                    "SELECT s.id FROM series s JOIN devices d ON d.id = s.device_id WHERE d.tenant = ?", (tenant,)
                )
            ]
        )
        removed = 0
        # A transaction per series: one for the whole tenant would hold the writer, and ingest, for long.
        for series in series_ids:
            removed += await self._db.writer.run(partial(_drop_chunks, series=series, before=before))
        return removed

    async def drop_rollups(self, span_ms: int, before: int) -> int:
        if span_ms not in ROLLUP_SPANS:
            raise InvalidInput(f"no rollups of {span_ms} ms; spans are {', '.join(map(str, ROLLUP_SPANS))}")

        def run(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                return rollups.drop(conn, span_ms, before)

        return await self._db.writer.run(run)


def _drop_chunks(conn: sqlite3.Connection, series: int, before: int) -> int:
    """Delete the chunks of ``series`` whose newest point is older than ``before``; how many points went."""
    with transaction(conn):
        rows = conn.execute("DELETE FROM chunks WHERE series = ? AND max_ts < ? RETURNING n", (series, before))
        return sum(n for (n,) in rows)

"""Rollups benchmark: a one-year hourly average of one series, from the rollups and from every raw point.

Writes ``--points`` readings of one series spread evenly over one year (a reading every 3.2 s at the default ten
million) through the store's ``write_points``, in batches of ``--batch``, into a fresh store (SQLite in a temporary
directory unless ``--store`` names another, or ``--ferretdb`` a FerretDB executable to start for the run and write
into with the MongoDB store). Then times ``--queries`` runs of the hourly average over the year:
from the rollups, as the API answers it, and as baseline the same query on the same store answered from every raw
point (the adapter built with ``use_rollups=False``). Both answers must agree.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cloud.bench.ferretdb import running_ferretdb
from contracts.devices import Device, Tenant
from contracts.telemetry import ReadingColumns
from hub.store.backend import Backend
from hub.store.factory import open_store
from hub.store.telemetry import AggFn, AggregateQuery, DeviceReadings, RangeQuery, TelemetryStore

YEAR_MS = 365 * 86_400_000
START = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DEVICE, TENANT = "bench-rollups", "bench"


async def _write(backend: Backend, points: int, batch: int) -> float:
    """Store ``points`` readings over one year, ``batch`` a write; the seconds it took."""
    now = datetime.now(UTC)
    await backend.registry.create_tenant(Tenant(id=TENANT, name=TENANT, created=now))
    await backend.registry.create_device(Device(id=DEVICE, name=DEVICE, tenant=TENANT, created=now), "-")
    step = YEAR_MS / points
    started = time.perf_counter()
    for first in range(0, points, batch):
        count = min(batch, points - first)
        seqs: list[int | None] = list(range(first, first + count))
        stamps = [START + int(i * step) for i in range(first, first + count)]
        values: list[Any] = [20.0 + (i % 1000) / 100 for i in range(first, first + count)]
        readings = ReadingColumns(["t"] * count, stamps, values, seqs)
        await backend.telemetry.write_points([DeviceReadings(DEVICE, TENANT, stamps[-1], readings)], outbox=False)
    return time.perf_counter() - started


def _raw(backend: Backend) -> TelemetryStore:
    """The same store answering every aggregate from raw points (its adapter built with ``use_rollups=False``)."""
    adapter: Any = type(backend.telemetry)
    raw: TelemetryStore = adapter(backend.database, use_rollups=False)
    return raw


async def _timed(telemetry: TelemetryStore, runs: int) -> tuple[list[float], list[tuple[int, float]]]:
    query = AggregateQuery(RangeQuery(DEVICE, "t", START, START + YEAR_MS, limit=10_000), AggFn.AVG, 3_600_000)
    times, answer = [], []
    for _ in range(runs):
        started = time.perf_counter()
        answer = await telemetry.query_aggregate(query)
        times.append((time.perf_counter() - started) * 1000)
    return times, answer


@asynccontextmanager
async def _store(args: argparse.Namespace) -> AsyncIterator[str]:
    """The URL of the store to write into, for the block."""
    if args.ferretdb is not None:
        async with running_ferretdb(Path(args.ferretdb)) as url:
            yield f"{url}bench_rollups"
        return
    with tempfile.TemporaryDirectory(prefix="fieldhub-bench-rollups-") as tmp:
        yield args.store or f"sqlite:///{Path(tmp) / 'rollups.db'}"


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    async with _store(args) as url:
        backend = open_store(url)
        await backend.database.open()
        try:
            write_s = await _write(backend, args.points, args.batch)
            rolled_ms, rolled = await _timed(backend.telemetry, args.queries)
            raw_ms, raw = await _timed(_raw(backend), max(1, args.queries // 5))
        finally:
            await backend.database.close()
    if [ts for ts, _ in rolled] != [ts for ts, _ in raw] or any(
        abs(a - b) > 1e-9 * max(1.0, abs(b)) for (_, a), (_, b) in zip(rolled, raw, strict=True)
    ):
        raise SystemExit("rollups and raw points answered differently")
    return {
        "points": args.points,
        "buckets": len(rolled),
        "write_points_per_s": round(args.points / write_s),
        "rollups_p50_ms": round(statistics.median(rolled_ms), 2),
        "raw_p50_ms": round(statistics.median(raw_ms), 1),
        "ratio": round(statistics.median(raw_ms) / statistics.median(rolled_ms), 2),
    }


def main(args: argparse.Namespace) -> int:
    if args.store is not None and args.ferretdb is not None:
        raise SystemExit("give --store or --ferretdb, not both")
    if args.ferretdb is not None and not Path(args.ferretdb).is_file():
        raise SystemExit(f"no FerretDB executable at {args.ferretdb}")
    result = asyncio.run(_run(args))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"rollups benchmark: {result['points']:,} points of one series over one year")
    print(f"  written at {result['write_points_per_s']:,} points/s, rollups included")
    print(f"  one-year hourly average ({result['buckets']:,} buckets) from the rollups: {result['rollups_p50_ms']} ms")
    print(f"  baseline, the same query from every raw point: {result['raw_p50_ms']} ms (ratio {result['ratio']})")
    return 0

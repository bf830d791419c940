"""MongoDB store benchmark: ingest points/s through the store's ``write_points`` against a plain PyMongo insert.

For each number of devices per batch (``--devices``), a fresh database gets ``--batches`` batches of ``--points``
readings, spread evenly over the devices, each device's seqs and times rising as ingest writes them. The baseline
inserts, with ``insert_many``, the very bucket documents the store writes for each batch (built beforehand by the
adapter's own builder) into a scratch collection; the store then writes the same batches with ``write_points``
(outbox included): the outbox entry, duplicate check, series documents, rollups and last seen on top. The server is
``--url``, or a FerretDB started from ``--ferretdb`` for the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cloud.bench.ferretdb import running_ferretdb
from contracts.devices import Device, Tenant
from contracts.telemetry import ReadingColumns
from hub.store.mongo.backend import mongo_backend
from hub.store.mongo.database import MongoDatabase
from hub.store.mongo.telemetry import bucket_documents, by_series
from hub.store.telemetry import DeviceReadings, Message

TENANT = "bench"
START = 1_767_225_600_000  # 2026-01-01T00:00:00Z
#: Time between two readings of one device.
STEP_MS = 1000


@asynccontextmanager
async def mongodb(args: argparse.Namespace) -> AsyncIterator[str]:
    """The server's URL: ``--url``, or a FerretDB started from ``--ferretdb`` for the block."""
    if args.url is not None:
        yield args.url
        return
    async with running_ferretdb(Path(args.ferretdb)) as url:
        yield url


def batches(devices: int, count: int, points: int) -> list[list[Message]]:
    """``count`` batches of ``points`` readings of sensor ``t``, one message per device in each."""
    per_device = points // devices
    made = []
    for number in range(count):
        batch: list[Message] = []
        for device in range(devices):
            first = number * per_device
            seqs: list[int | None] = list(range(first, first + per_device))
            stamps = [START + seq * STEP_MS for seq in range(first, first + per_device)]
            readings = ReadingColumns(
                ["t"] * per_device, stamps, [20.0 + seq % 100 / 10 for seq in range(first, first + per_device)], seqs
            )
            batch.append(DeviceReadings(f"d{device}", TENANT, stamps[-1], readings))
        made.append(batch)
    return made


async def _server(db: MongoDatabase) -> str:
    info = await db.db.command("buildInfo")
    ferret = info.get("ferretdbVersion")
    return f"FerretDB {ferret.removeprefix('v')}" if ferret else f"MongoDB {info['version']}"


async def _run_one(url: str, devices: int, args: argparse.Namespace) -> dict[str, Any]:
    """The baseline and the store on ``devices`` devices per batch, in a database of their own."""
    backend = mongo_backend(f"{url}bench_{uuid.uuid4().hex[:12]}")
    db = backend.database
    assert isinstance(db, MongoDatabase)
    await db.open()
    try:
        now = datetime.now(UTC)
        await backend.registry.create_tenant(Tenant(id=TENANT, name=TENANT, created=now))
        for device in range(devices):
            await backend.registry.create_device(
                Device(id=f"d{device}", name=f"d{device}", tenant=TENANT, created=now), "-"
            )
        work = batches(devices, args.batches, args.points)
        documents = [bucket_documents(by_series(batch)) for batch in work]
        scratch = db.collection("bench_baseline")
        baseline = []
        for docs in documents:
            started = time.perf_counter()
            await scratch.insert_many(docs, ordered=False)
            baseline.append(time.perf_counter() - started)
        store = []
        for batch in work:
            started = time.perf_counter()
            await backend.telemetry.write_points(batch)
            store.append(time.perf_counter() - started)
        server = await _server(db)
        await db.db.client.drop_database(db.db.name)
    finally:
        await db.close()
    points = args.batches * (args.points // devices) * devices
    baseline_rate, store_rate = points / sum(baseline), points / sum(store)
    return {
        "server": server,
        "devices_per_batch": devices,
        "batches": args.batches,
        "points": points,
        "baseline_points_per_s": round(baseline_rate),
        "store_points_per_s": round(store_rate),
        "ratio": round(baseline_rate / store_rate, 1),
        "store_batch_p50_ms": round(statistics.median(store) * 1000, 1),
        "store_last_tenth_batch_ms": round(statistics.fmean(store[-max(1, len(store) // 10) :]) * 1000, 1),
    }


async def _run(args: argparse.Namespace) -> list[dict[str, Any]]:
    async with mongodb(args) as url:
        return [await _run_one(url, devices, args) for devices in args.devices]


def main(args: argparse.Namespace) -> int:
    if (args.url is None) == (args.ferretdb is None):
        raise SystemExit("give the server: --url mongodb://... or --ferretdb PATH")
    if args.ferretdb is not None and not Path(args.ferretdb).is_file():
        raise SystemExit(f"no FerretDB executable at {args.ferretdb}")
    if any(args.points % devices for devices in args.devices):
        raise SystemExit("--points must be a multiple of every --devices")
    runs = asyncio.run(_run(args))
    if args.json:
        print(json.dumps(runs))
        return 0
    print(f"MongoDB store benchmark on {runs[0]['server']}: {args.batches} batches of {args.points} points")
    for run in runs:
        print(
            f"  {run['devices_per_batch']:>3} devices per batch: store {run['store_points_per_s']:,} points/s"
            f" (p50 {run['store_batch_p50_ms']} ms a batch, last tenth {run['store_last_tenth_batch_ms']} ms),"
            f" baseline insert_many {run['baseline_points_per_s']:,} points/s (ratio {run['ratio']})"
        )
    return 0

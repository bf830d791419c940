"""HTTP ingest benchmark: requests/s and points/s through ``POST /api/v1/ingest/telemetry``, per batch size.

A hub in this process (SQLite store); the load from ``--processes`` spawned processes holding ``--clients``
keep-alive httpx clients in all, each posting as a device of its own (HTTP Basic) for ``--seconds``, one request
after the other: every answer is a ``202``, given once the message is stored. One run per ``--batch`` (readings
per request); the first run is the baseline the others are compared with (points/s), in the same invocation.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import multiprocessing as mp
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cloud.api.ingest import PATH
from cloud.bench.common import bench_settings
from cloud.bench.load import payload
from cloud.runtime import HubRuntime
from contracts.devices import DeviceCreate

#: The load processes start together at this much after the run is handed to them (they are already up).
START_DELAY_S = 0.5


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """One load process: the devices it posts as (one client each), and when and how long."""

    url: str
    devices: list[tuple[str, str]]
    batch: int
    start_at: float
    seconds: float


async def _post_until(client: httpx.AsyncClient, spec: LoadSpec, until: float) -> tuple[int, int, list[float]]:
    answered, errors, latencies = 0, 0, []
    for seq in itertools.count():
        if (started := time.perf_counter()) >= until:
            break
        response = await client.post(
            PATH, content=payload(seq, spec.batch), headers={"Content-Type": "application/json"}
        )
        latencies.append(time.perf_counter() - started)
        if response.status_code == 202:
            answered += 1
        else:
            errors += 1
    return answered, errors, latencies


async def _load(spec: LoadSpec) -> dict[str, Any]:
    clients = [httpx.AsyncClient(base_url=spec.url, auth=device, timeout=60) for device in spec.devices]
    try:
        await asyncio.sleep(max(0.0, spec.start_at - time.time()))  # start with the other processes
        until = time.perf_counter() + spec.seconds
        results = await asyncio.gather(*(_post_until(client, spec, until) for client in clients))
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    return {
        "stored": sum(r[0] for r in results),
        "errors": sum(r[1] for r in results),
        "latencies": [latency for r in results for latency in r[2]],
    }


def _load_process(spec: LoadSpec) -> dict[str, Any]:
    return asyncio.run(_load(spec))


async def _run_once(
    hub: HubRuntime, pool: ProcessPoolExecutor, devices: list[tuple[str, str]], batch: int, args: argparse.Namespace
) -> dict[str, Any]:
    value = hub.services.metrics.registry.get_sample_value
    points_before = value("fieldhub_store_points_written_total") or 0
    start_at = time.time() + START_DELAY_S
    shares = [devices[i :: args.processes] for i in range(args.processes)]
    loop = asyncio.get_running_loop()
    done = await asyncio.gather(
        *(
            loop.run_in_executor(pool, _load_process, LoadSpec(hub.url, share, batch, start_at, args.seconds))
            for share in shares
            if share
        )
    )
    stored_points = int((value("fieldhub_store_points_written_total") or 0) - points_before)
    requests = sum(d["stored"] for d in done)
    latencies = sorted(latency for d in done for latency in d["latencies"])
    return {
        "batch": batch,
        "requests": requests,
        "errors": sum(d["errors"] for d in done),
        "requests_per_s": round(requests / args.seconds, 1),
        "points_per_s": round(requests * batch / args.seconds, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000, 2) if latencies else None,
        # Every 202 is a stored message: the store holds at least what was answered.
        "lost_points": max(0, requests * batch - stored_points),
    }


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fieldhub-bench-") as tmp:
        async with HubRuntime(bench_settings(Path(tmp), args, stream=[])) as hub:
            with ProcessPoolExecutor(args.processes, mp_context=mp.get_context("spawn")) as pool:
                runs = []
                for number, batch in enumerate(args.batches):
                    # Devices of its own per run: the same seq of the same device would be a redelivery.
                    devices = []
                    for i in range(args.clients):
                        created = await hub.services.registry.create_device(
                            DeviceCreate(id=f"http-bench-{number}-{i}", name="bench"), "default"
                        )
                        devices.append((created.id, created.credentials.password))
                    runs.append(await _run_once(hub, pool, devices, batch, args))
    baseline = runs[0]
    for run in runs:
        run["ratio_points_per_s"] = round(run["points_per_s"] / baseline["points_per_s"], 3)
        run["ratio_requests_per_s"] = round(run["requests_per_s"] / baseline["requests_per_s"], 3)
    return {
        "clients": args.clients,
        "processes": args.processes,
        "seconds": args.seconds,
        "baseline_batch": baseline["batch"],
        "runs": runs,
        "errors": sum(run["errors"] for run in runs),
        "lost_points": sum(run["lost_points"] for run in runs),
    }


def _report(result: dict[str, Any]) -> None:
    print(
        f"HTTP ingest benchmark: {result['clients']} keep-alive clients in {result['processes']} process(es), "
        f"{result['seconds']:.0f} s per run, answered once stored (SQLite)"
    )
    for run in result["runs"]:
        role = "baseline" if run["batch"] == result["baseline_batch"] else f"x{run['ratio_points_per_s']:.2f} points"
        print(
            f"  batch {run['batch']:>4}: {run['requests_per_s']:>8.0f} req/s, {run['points_per_s']:>9.0f} points/s, "
            f"p50 {run['p50_ms']} ms, p99 {run['p99_ms']} ms, {run['errors']} error(s) ({role})"
        )
    print(f"  points answered but not stored: {result['lost_points']}")


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(_run(args))
    if args.json:
        print(json.dumps(result, allow_nan=False))
    else:
        _report(result)
    return 0 if result["errors"] == 0 and result["lost_points"] == 0 else 1

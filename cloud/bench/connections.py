"""Many devices: N authenticated connections through a managed Mosquitto, each publishing every S seconds.

The devices are registered through the hub's registry before the broker starts (a hub on the
embedded broker, on the same data directory), then the hub starts again on a managed Mosquitto,
which begins from a dynamic-security file written from the registry: the sync on start. Registering
them on a running Mosquitto instead costs one account change per device, and Mosquitto 2.0 rewrites
its whole account file after every command, so that grows with the square of the devices
(docs/benchmarks.md). The load is :mod:`cloud.bench.swarm`; stored points are counted in the store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cloud import collector
from cloud.bench.agent import _rss_mb
from cloud.bench.cload import Device
from cloud.bench.common import bench_settings, stored_points, wait_for
from cloud.bench.swarm import PER_WORKER, Swarm, Tally, WorkerSpec, raise_open_files, source_address
from cloud.runtime import HubRuntime
from contracts.devices import DeviceCreate
from hub.broker.mosquitto.pidfile import PidFile

#: Registrations under way at once (their password hashing runs in threads).
_REGISTERING = 64
#: Open files a process needs besides one per connection (Mosquitto: listeners, log, persistence, the hub's link).
_OWN_FILES = 32
#: Seconds between two samples of resident memory while the devices publish.
_SAMPLE_S = 1.0


async def _register(data_dir: Path, args: argparse.Namespace) -> tuple[list[Device], float]:
    """Register the devices (``--bad`` extra ones too) through a hub's registry; the devices and seconds taken."""
    window = asyncio.Semaphore(_REGISTERING)
    async with HubRuntime(bench_settings(data_dir, args, stream=[])) as hub:
        registry = hub.services.registry

        async def one(n: int) -> Device:
            async with window:
                created = await registry.create_device(DeviceCreate(id=f"bench-{n}", name="bench"), "default")
            return Device(created.id, created.credentials.password)

        started = time.perf_counter()
        devices = await asyncio.gather(*(one(n) for n in range(args.devices + args.bad)))
        return devices, time.perf_counter() - started


def _specs(
    port: int, devices: list[Device], bad: frozenset[str], open_files: int, args: argparse.Namespace
) -> list[WorkerSpec]:
    # A worker needs a file per connection too (it has the same limit), and a few of its own.
    per_worker = min(PER_WORKER, open_files - _OWN_FILES)
    workers = max(args.workers, math.ceil(len(devices) / per_worker))
    return [
        WorkerSpec(
            host="127.0.0.1",
            port=port,
            source=source_address(w),
            devices=devices[w::workers],
            bad=bad,
            interval_s=args.interval,
            duration_s=args.duration,
            keepalive_s=args.keepalive,
            connect_timeout_s=args.connect_timeout,
        )
        for w in range(workers)
    ]


def _limit(args: argparse.Namespace, open_files: int, held: Tally) -> str | None:
    """Where the run met a limit, if it did, as far as this machine tells."""
    wanted = args.devices + args.bad
    if held.connected + held.refused == wanted:
        return None
    if wanted + _OWN_FILES > open_files:
        return (
            f"Mosquitto's open files: {open_files} (the hard limit it inherits; one file per connection); "
            "raise it (ulimit -Hn as root with CAP_SYS_RESOURCE, docker --ulimit nofile, systemd LimitNOFILE)"
        )
    return "connections failed: see errors"


async def _publish(swarm: Swarm, broker_pid: int) -> tuple[Tally, float, float]:
    """Run the timed load; its counts and the peak resident memory (MB) of the broker and the hub meanwhile."""
    peaks = [0.0, 0.0]
    async with asyncio.TaskGroup() as tasks:
        publishing = tasks.create_task(asyncio.to_thread(swarm.publish), name="bench-load")
        while not publishing.done():
            peaks = [max(peak, _rss_mb(pid)) for peak, pid in zip(peaks, (broker_pid, os.getpid()), strict=True)]
            await asyncio.wait({publishing}, timeout=_SAMPLE_S)
    return publishing.result(), peaks[0], peaks[1]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    open_files = raise_open_files()  # Mosquitto, a child of the hub in this process, inherits it
    with tempfile.TemporaryDirectory(prefix="fieldhub-bench-connections-") as tmp:
        data_dir = Path(tmp)
        devices, registration_s = await _register(data_dir, args)
        bad = frozenset(d.device_id for d in devices[args.devices :])
        started = time.perf_counter()
        async with HubRuntime(bench_settings(data_dir, args, broker="mosquitto", stream=[])) as hub:
            sync_s = time.perf_counter() - started
            collector.settle_after_start()  # as fieldhub up does
            record = PidFile(data_dir / "mosquitto" / "mosquitto.pid").read()
            assert record is not None
            broker_idle_rss = _rss_mb(record.pid)  # the accounts alone
            swarm = Swarm(_specs(hub.mqtt_port, devices, bad, open_files, args))
            try:
                with stored_points(data_dir / "fieldhub.db") as stored:
                    held = await asyncio.to_thread(swarm.connect)
                    before = stored()
                    go = time.perf_counter()
                    done, broker_rss, hub_rss = await _publish(swarm, record.pid)
                    ended = await wait_for(lambda: stored() - before, done.acked, poll_s=0.05)
                    points = stored() - before
            finally:
                swarm.stop()
    connect_s = held.last_connack - held.first_attempt
    return {
        "devices": args.devices,
        "interval_s": args.interval,
        "duration_s": args.duration,
        "registration_s": round(registration_s, 2),
        "registrations_per_s": round(len(devices) / registration_s, 1),
        "hub_start_with_broker_sync_s": round(sync_s, 2),
        "connected": held.connected,
        "connect_rate_per_s": round(held.connected / connect_s, 1) if connect_s > 0 else None,
        "refused": held.refused,
        "unanswered": held.unanswered,
        "errors": dict(held.errors),
        "dropped": done.dropped,
        "published": done.published,
        "acknowledged": done.acked,
        "stored": points,
        "expected_per_s": round(held.connected / args.interval, 1),
        # From the go to the last point stored: the publishing time and the tail still on its way.
        "stored_per_s": round(points / (ended - go), 1) if ended > go else None,
        "last_stored_s": round(ended - go, 2),
        "lost": max(0, done.acked - points),
        "broker_rss_mb": round(broker_rss, 1),
        "broker_rss_idle_mb": round(broker_idle_rss, 1),
        "hub_rss_mb": round(hub_rss, 1),
        "open_files_limit": open_files,
        "limit": _limit(args, open_files, held),
    }


def main(args: argparse.Namespace) -> int:
    if args.duration < args.interval:
        print("--duration must be at least --interval: every device publishes at least once", file=sys.stderr)
        return 2
    result = asyncio.run(run(args))
    code = 0 if result["lost"] == 0 else 1
    if args.json:
        print(json.dumps(result))
        return code
    print(
        f"connections benchmark: {result['devices']} devices through Mosquitto, one message each every "
        f"{result['interval_s']} s for {result['duration_s']} s"
    )
    print(
        f"  registered in {result['registration_s']} s ({result['registrations_per_s']}/s); hub start with the "
        f"broker sync {result['hub_start_with_broker_sync_s']} s"
    )
    print(
        f"  connected {result['connected']} ({result['connect_rate_per_s']}/s), refused {result['refused']}, "
        f"unanswered {result['unanswered']}, errors {result['errors']}"
    )
    print(
        f"  published {result['published']}, acknowledged {result['acknowledged']}, stored {result['stored']} "
        f"({result['stored_per_s']}/s of {result['expected_per_s']}/s), lost {result['lost']}"
    )
    print(
        f"  resident memory: broker {result['broker_rss_mb']} MB ({result['broker_rss_idle_mb']} MB with the "
        f"accounts alone), hub {result['hub_rss_mb']} MB"
    )
    if result["limit"]:
        print(f"  limit: {result['limit']}")
    return code

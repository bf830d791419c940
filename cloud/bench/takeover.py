"""Takeover benchmark: a killed ingest replica's share of the readings, stored without a restart.

A hub in this process on a managed Mosquitto (default leases: ``leader.ttl_s`` 10 s, ``renew_s`` 3 s) and one
ingest replica process share the device messages. One device publishes ``--messages`` readings at QoS 1 as fast
as the broker takes them. Baseline, in the same run: both processes alive, timed from the first publish until
every reading is stored. Then the replica is killed with SIGKILL and the same number of new readings is
published: about half of them wait in the dead replica's session until the hub, which leads, takes that session
over (hub/broker/mosquitto/sessions.py). Timed from the kill until every reading is stored; the design bound
is ``ttl_s + renew_s`` plus the time to store what the session held.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from cloud import collector
from cloud.bench.common import bench_settings, connected_publisher, stored_points, wait_for
from cloud.bench.mosquitto import replicas
from cloud.runtime import HubRuntime
from contracts.devices import DeviceCreate

_DEVICE = "bench-takeover"


def _publish(port: int, password: str, first: int, count: int) -> None:
    """``count`` readings numbered from ``first``, each acknowledged by the broker before this returns."""
    client = connected_publisher(port, _DEVICE, password)
    try:
        infos = [
            client.publish(f"devices/{_DEVICE}/telemetry", orjson.dumps({"values": {"n": seq}, "seq": seq}), qos=1)
            for seq in range(first, first + count)
        ]
        for info in infos:
            info.wait_for_publish(120)
    finally:
        client.disconnect()
        client.loop_stop()


async def _timed(
    hub: HubRuntime, password: str, count: Callable[[], int], *, first: int, messages: int, started: float
) -> tuple[float, int]:
    """Publish and wait until everything is stored; seconds from ``started``, and how many are stored."""
    await asyncio.to_thread(_publish, hub.mqtt_port, password, first, messages)
    policy = hub.settings.leader.policy()
    # Half the readings wait for the takeover: no progress for up to a lease's life is expected, not a stall.
    last_change = await wait_for(count, first + messages, poll_s=0.05, stall_s=2 * (policy.ttl_s + policy.renew_s))
    return last_change - started, count()


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fieldhub-bench-") as tmp:
        data = Path(tmp)
        settings = bench_settings(data, args, broker="mosquitto", stream=[])
        async with HubRuntime(settings) as hub:
            collector.settle_after_start()
            created = await hub.services.registry.create_device(DeviceCreate(id=_DEVICE, name="bench"), "default")
            password = created.credentials.password
            metrics = hub.services.metrics.registry

            def adopted() -> int:
                return int(metrics.get_sample_value("fieldhub_mqtt_sessions_adopted_total") or 0)

            with stored_points(data / "fieldhub.db") as count, replicas(data, hub.mqtt_port, 1) as procs:
                baseline_s, stored = await _timed(
                    hub, password, count, first=0, messages=args.messages, started=time.perf_counter()
                )
                procs[0].send_signal(signal.SIGKILL)
                procs[0].wait()
                killed = time.perf_counter()
                after_s, stored = await _timed(
                    hub, password, count, first=args.messages, messages=args.messages, started=killed
                )
                policy = settings.leader.policy()
                # The takeover ends after the last message it handed on is stored: unsubscribing, forgetting.
                done_s = await wait_for(adopted, 1, poll_s=0.05, stall_s=policy.ttl_s + policy.renew_s) - killed
            return {
                "messages": args.messages,
                "baseline_all_stored_s": round(baseline_s, 2),
                "after_kill_all_stored_s": round(after_s, 2),
                "takeover_done_s": round(done_s, 2),
                "ratio": round(after_s / baseline_s, 2),
                "design_bound_s": policy.ttl_s + policy.renew_s,
                "adopted_messages": int(metrics.get_sample_value("fieldhub_mqtt_adopted_messages_total") or 0),
                "sessions_adopted": adopted(),
                "lost": 2 * args.messages - stored,
            }


def main(args: argparse.Namespace) -> int:
    result = asyncio.run(_run(args))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"takeover benchmark ({result['messages']} readings per run, one ingest replica beside the hub)")
    print(f"  both alive: all stored {result['baseline_all_stored_s']} s after the first publish (baseline)")
    print(
        f"  replica killed: all stored {result['after_kill_all_stored_s']} s after the SIGKILL "
        f"(ratio {result['ratio']}; lease bound {result['design_bound_s']} s; takeover done at "
        f"{result['takeover_done_s']} s), "
        f"{result['adopted_messages']} taken from its session, lost {result['lost']}"
    )
    return 0 if result["lost"] == 0 else 1

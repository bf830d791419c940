"""Placement benchmark: the time to place M deployments over N nodes, against a load-only baseline.

The nodes are built as the hub would: a gateway record and a stored heartbeat each, turned into views by
:func:`hub.deploy.placement.node_view` (timed on its own). Each node sits at one of several locations with a
few sensors there (some labelled, some disabled) and, on half of them, a relay actuator. Each deployment binds
one to three sensors, sometimes an actuator, sometimes a node label, and one or two replicas. Deployments
are placed one after the other; every instance placed counts on its node for the next decision.

Baseline, in the same run: what the replaced platform did, picking the least loaded node by load alone
(:func:`hub.deploy.placement.load_score` over every node, no sensors looked at) for each deployment.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import time
from datetime import UTC, datetime
from typing import Any

from contracts.apps import Binding, Placement
from contracts.devices import Device, DeviceKind, DeviceStatus
from contracts.nodes import Heartbeat, SensorInfo, SpoolInfo
from hub.deploy.placement import Needs, load_score, node_view, place
from hub.store.nodes import HeartbeatRecord

LOCATIONS = [f"greenhouse-{c}" for c in "abcdefghij"]
SENSOR_TYPES = ["temperature", "humidity", "soil_moisture", "light", "co2"]
SITES = ["north", "south", "east"]


def _records(rng: random.Random, count: int) -> list[tuple[Device, HeartbeatRecord]]:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    records = []
    for i in range(count):
        location = LOCATIONS[i % len(LOCATIONS)]
        sensors = [
            SensorInfo(
                name=f"{type_}-{j}",
                driver="simulated",
                type=type_,
                location=location,
                labels={"zone": str(j)} if j else {},
                enabled=rng.random() > 0.05,
            )
            for type_ in rng.sample(SENSOR_TYPES, 3)
            for j in range(rng.randint(1, 2))
        ]
        if i % 2:
            sensors.append(
                SensorInfo(name="fan", driver="gpio", type="relay", location=location, labels={"kind": "actuator"})
            )
        beat = Heartbeat(
            ts=0,
            agent_version="1.0.0",
            uptime_s=60,
            load1=round(rng.uniform(0, 2), 2),
            mem_used_pct=round(rng.uniform(10, 90), 1),
            spool=SpoolInfo(depth=0, dropped=0, bytes_used=0),
            sensors=sensors,
        )
        device = Device(
            id=f"node-{i:05d}",
            name=f"node-{i:05d}",
            tenant="default",
            kind=DeviceKind.GATEWAY,
            labels={"site": SITES[i % len(SITES)]},
            status=DeviceStatus.ONLINE if rng.random() > 0.05 else DeviceStatus.OFFLINE,
            created=created,
        )
        records.append((device, HeartbeatRecord(doc=beat.model_dump(mode="json"), received=0)))
    return records


def _needs(rng: random.Random, count: int) -> list[Needs]:
    result = []
    for _ in range(count):
        location = rng.choice(LOCATIONS)
        sensors = tuple(
            Binding(bind=f"s{k}", type=type_, location=location, labels={"zone": "1"} if rng.random() < 0.2 else {})
            for k, type_ in enumerate(rng.sample(SENSOR_TYPES, rng.randint(1, 3)))
        )
        actuators = (Binding(bind="fan", type="relay", location=location),) if rng.random() < 0.3 else ()
        node_labels = {"site": rng.choice(SITES)} if rng.random() < 0.2 else {}
        result.append(Needs(sensors, actuators, Placement(replicas=rng.randint(1, 2), node_labels=node_labels)))
    return result


def _run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)  # noqa: S311 - a reproducible load, not a secret
    records = _records(rng, args.nodes)
    deployments = _needs(rng, args.deployments)

    started = time.perf_counter()
    views = [node_view(device, record) for device, record in records]
    build_s = time.perf_counter() - started

    started = time.perf_counter()
    for _ in deployments:
        min(views, key=lambda node: (load_score(node), node.id))
    baseline_s = time.perf_counter() - started

    index = {view.id: i for i, view in enumerate(views)}
    placed = pending = 0
    started = time.perf_counter()
    for needs in deployments:
        decision = place(needs, views)
        for node_id in decision.chosen:
            i = index[node_id]
            views[i] = dataclasses.replace(views[i], instances=views[i].instances + 1)
        placed += bool(decision.chosen)
        pending += decision.pending
    placement_s = time.perf_counter() - started

    return {
        "nodes": args.nodes,
        "deployments": args.deployments,
        "placed": placed,
        "pending": pending,
        "node_views_ms": round(build_s * 1000, 1),
        "placement_ms": round(placement_s * 1000, 1),
        "placement_ms_per_decision": round(placement_s * 1000 / max(args.deployments, 1), 3),
        "baseline_ms": round(baseline_s * 1000, 1),
        "baseline_ms_per_decision": round(baseline_s * 1000 / max(args.deployments, 1), 3),
        "ratio": round(placement_s / baseline_s, 2) if baseline_s else None,
    }


def main(args: argparse.Namespace) -> int:
    result = _run(args)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"placement benchmark: {result['nodes']} nodes x {result['deployments']} deployments")
    print(f"  node views from device records and stored heartbeats: {result['node_views_ms']} ms")
    print(
        f"  placement: {result['placement_ms_per_decision']} ms per decision, {result['placement_ms']} ms in all "
        f"({result['placed']} placed, {result['pending']} pending)"
    )
    print(
        f"  baseline, least loaded node by load alone: {result['baseline_ms_per_decision']} ms per decision, "
        f"{result['baseline_ms']} ms in all (ratio {result['ratio']})"
    )
    return 0

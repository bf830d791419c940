"""Alarm benchmark: ingest with 1,000 rules over the benched devices against the same run without rules, and the
time from the reading that crosses a threshold to the webhook call.

The rules: every one applies to the benched devices (a label they carry). In the usual mix 10 watch the key the
devices publish (thresholds, one that raises and clears again and again, a range, a rate, an equality) and 990
watch other keys; the worst case puts all 1,000 on the published key. Runs alternate, without rules and with,
``--rounds`` times; the medians are compared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from cloud.bench.common import bench_settings, connected_publisher
from cloud.bench.ingest import Prepare, pipeline
from cloud.runtime import HubRuntime
from contracts.alarms import AlarmState, Rule, RuleCreate
from contracts.channels import ChannelCreate
from contracts.devices import DeviceCreate, DevicePatch
from hub.store.alarms import AlarmQuery

TENANT = "default"
LABEL = {"bench": "alarms"}
RULES = 1000
PUBLISHED = "v"
_ON_PUBLISHED: list[dict[str, Any]] = [
    {"kind": "threshold", "op": ">", "value": 990},  # v runs 0..999 over and over: raises and clears each time
    {"kind": "threshold", "op": "<", "value": -1, "for_s": 60},
    {"kind": "range", "low": -1, "high": 5000},
    {"kind": "rate", "op": ">", "value": 1e9},
    {"kind": "threshold", "op": "==", "value": 12345},
    {"kind": "threshold", "op": ">=", "value": 5000, "hysteresis": 10},
    {"kind": "threshold", "op": "!=", "value": 1e9, "for_s": 3600},
    {"kind": "range", "low": 2000, "high": 3000, "inside": True},
    {"kind": "threshold", "op": "<=", "value": -100},
    {"kind": "threshold", "op": ">", "value": 1e6, "clear": {"op": "<", "value": 0}},
]


def rule_mix(worst: bool) -> list[dict[str, Any]]:
    """999 of the 1,000 rules' bodies (the last is made through the service): on the published key, and on others."""
    published = RULES - 1 if worst else len(_ON_PUBLISHED)
    bodies = [{**_ON_PUBLISHED[i % len(_ON_PUBLISHED)], "key": PUBLISHED} for i in range(published)]
    bodies += [{"kind": "threshold", "op": ">", "value": 100, "key": f"k{i}"} for i in range(RULES - 1 - published)]
    return bodies


def with_rules(worst: bool) -> Prepare:
    """Label the benched devices and make the rules."""

    async def prepare(hub: HubRuntime, devices: list[str]) -> None:
        services = hub.services
        for device in devices:
            await services.registry.update(device, DevicePatch(labels=LABEL))
        bodies = rule_mix(worst)
        for i, body in enumerate(bodies):
            rule = Rule.model_validate(
                {"name": f"bench {i}", "selector": LABEL, **body, "id": f"r{i}", "tenant": TENANT}
                | {"created": 0, "updated": 0}
            )
            await services.store.alarms.add_rule(rule)
        # Stored directly, they apply within a second; one made through the service applies them all at once.
        last = RuleCreate.model_validate({"name": "bench last", "selector": LABEL, **_ON_PUBLISHED[-1], "key": "z"})
        await services.rules.create(TENANT, last)

    return prepare


class Evaluated:
    """After a run with rules: wait until the rules were evaluated on every stored batch, and what came of it."""

    def __init__(self) -> None:
        self.raised = 0
        self.skipped = 0
        self.behind_s = 0.0

    async def __call__(self, hub: HubRuntime, devices: list[str]) -> None:
        value = hub.services.metrics.registry.get_sample_value
        stored_at = time.perf_counter()
        while True:
            written = value("fieldhub_store_write_seconds_count") or 0
            evaluated = value("fieldhub_alarm_evaluation_seconds_count") or 0
            self.skipped = int(value("fieldhub_alarm_batches_skipped_total") or 0)
            if evaluated + self.skipped >= written:
                break
            await asyncio.sleep(0.005)  # polling counters; evaluation has no event for "all done"
        self.behind_s = time.perf_counter() - stored_at
        self.raised = int(value("fieldhub_alarm_transitions_total", {"state": "active"}) or 0)


async def ingest_with_and_without(args: argparse.Namespace, worst: bool) -> dict[str, Any]:
    plain, ruled, evaluations = [], [], []
    for _ in range(args.rounds):
        plain.append((await pipeline(args))["msgs_per_s"])
        evaluated = Evaluated()
        ruled.append((await pipeline(args, with_rules(worst), evaluated))["msgs_per_s"])
        evaluations.append(evaluated)
    without, with_ = statistics.median(plain), statistics.median(ruled)
    return {
        "without_rules_msgs_per_s": round(without, 1),
        "with_rules_msgs_per_s": round(with_, 1),
        "ratio": round(with_ / without, 3),
        "runs": {"without": [round(v) for v in plain], "with": [round(v) for v in ruled]},
        "alarms_raised": [e.raised for e in evaluations],
        "batches_skipped": sum(e.skipped for e in evaluations),
        "evaluation_behind_s": round(max(e.behind_s for e in evaluations), 3),
    }


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[tuple[str, asyncio.Queue[float]]]:
    """A local endpoint that notes when each notification arrived (perf_counter)."""
    arrivals: asyncio.Queue[float] = asyncio.Queue()

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        arrivals.put_nowait(time.perf_counter())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", arrivals
    finally:
        await runner.cleanup()


async def threshold_to_webhook(args: argparse.Namespace) -> dict[str, Any]:
    """Publish a reading over a threshold, time its webhook call; back under (clears, no call); again."""
    with tempfile.TemporaryDirectory(prefix="fieldhub-bench-") as tmp:
        async with HubRuntime(bench_settings(Path(tmp), args, stream=[])) as hub, webhook_receiver() as (url, arrivals):
            services = hub.services
            created = await services.registry.create_device(DeviceCreate(id="freezer", name="freezer"), TENANT)
            target = {"kind": "webhook", "url": url}
            channel = await services.channels.create(
                TENANT, ChannelCreate.model_validate({"name": "bench", "target": target, "rate_per_min": 6000})
            )
            rule = await services.rules.create(
                TENANT,
                RuleCreate.model_validate(
                    {
                        "name": "warm",
                        "selector": {},
                        "key": "temperature",
                        "kind": "threshold",
                        "op": ">",
                        "value": -10,
                        "channels": [channel.id],
                    }
                ),
            )
            password = created.credentials.password
            device = await asyncio.to_thread(connected_publisher, hub.mqtt_port, created.id, password)
            topic = f"devices/{created.id}/telemetry"
            took = []
            try:
                for i in range(args.alarms):
                    sent = time.perf_counter()
                    device.publish(topic, orjson.dumps({"values": {"temperature": -5.0}}), qos=1)
                    arrived = await asyncio.wait_for(arrivals.get(), 30)
                    took.append((arrived - sent) * 1000)
                    device.publish(topic, orjson.dumps({"values": {"temperature": -20.0}}), qos=1)
                    await _cleared(hub, rule.id, i + 1)
            finally:
                device.disconnect()
                device.loop_stop()
    ordered = sorted(took)
    return {
        "alarms": len(took),
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 1),
        "max_ms": round(ordered[-1], 1),
    }


async def _cleared(hub: HubRuntime, rule: str, count: int) -> None:
    query = AlarmQuery(tenant=TENANT, rule=rule, states=(AlarmState.CLEARED,), limit=1)
    deadline = time.monotonic() + 30
    while (await hub.services.alarms.query(query))[1] < count:
        if time.monotonic() > deadline:
            raise TimeoutError("the alarm did not clear")
        await asyncio.sleep(0.005)  # polling the store, bounded by the deadline


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "rules": RULES,
        "messages": args.messages,
        "mix": await ingest_with_and_without(args, worst=False),
        "worst": await ingest_with_and_without(args, worst=True),
        "threshold_to_webhook": await threshold_to_webhook(args),
    }


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("amqtt").setLevel(logging.ERROR)
    args.stream, args.batch, args.qos = [], 1, 1
    result = asyncio.run(_run(args))
    if args.json:
        print(json.dumps(result))
        return 0
    mix, worst, hook = result["mix"], result["worst"], result["threshold_to_webhook"]
    print(f"alarm benchmark: {args.messages} messages x 1 reading, {args.publishers} publishers, {RULES} rules")
    print(f"  ingest without rules: {mix['without_rules_msgs_per_s']:>8.0f} msg/s (median of {args.rounds})")
    for name, run in (("10 on the published key", mix), ("all on the published key", worst)):
        print(f"  with 1,000 rules, {name}: {run['with_rules_msgs_per_s']:>8.0f} msg/s, ratio {run['ratio']:.2f}")
        print(
            f"    alarms raised per run {run['alarms_raised']}, batches not evaluated {run['batches_skipped']}, "
            f"evaluation done {run['evaluation_behind_s']} s after the last message stored"
        )
    print(
        f"  reading over a threshold -> webhook call: p50 {hook['p50_ms']} ms, p99 {hook['p99_ms']} ms "
        f"({hook['alarms']} alarms)"
    )
    return 0

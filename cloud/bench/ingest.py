"""Ingest benchmark: the raw embedded broker (baseline) vs the Fieldhub pipeline, in one run.

Baseline: publishers -> plain amqtt (no auth) -> a paho subscriber, QoS as asked.
Pipeline: authenticated devices -> embedded broker -> ingest -> SQLite, counted when stored.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from amqtt.broker import Broker

from cloud import collector
from cloud.bench.common import CountingSubscriber, bench_settings, latencies, percentiles, wait_for
from cloud.bench.load import Publishers, PublisherSpec
from cloud.runtime import HubRuntime
from contracts.devices import DeviceCreate


async def baseline(args: argparse.Namespace) -> dict[str, float]:
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": "127.0.0.1:0"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
    )
    await broker.start()
    try:
        port = broker._servers["default"].instance.sockets[0].getsockname()[1]
        per = args.messages // args.publishers
        specs = [
            PublisherSpec(
                "127.0.0.1", port, f"pub-{i}", None, None, f"devices/pub-{i}/telemetry", per, args.batch, args.qos
            )
            for i in range(args.publishers)
        ]
        async with CountingSubscriber(port, args.qos) as sub:
            pubs = Publishers(specs)
            await asyncio.to_thread(pubs.start)
            started = pubs.go()
            ended = await wait_for(lambda: sub.received, per * args.publishers)
            await asyncio.to_thread(pubs.join)
        elapsed = ended - started
        return {"sent": per * args.publishers, "received": sub.received, "msgs_per_s": sub.received / elapsed}
    finally:
        await broker.shutdown()


#: Called with the running hub and the benched device ids before the publishers start.
Prepare = Callable[[HubRuntime, list[str]], Awaitable[None]]


async def pipeline(
    args: argparse.Namespace, prepare: Prepare | None = None, finish: Prepare | None = None
) -> dict[str, float]:
    """The pipeline's run; ``prepare`` before the publishers start, ``finish`` once every message is stored (both
    with the hub and the device ids)."""
    with tempfile.TemporaryDirectory(prefix="fieldhub-bench-") as tmp:
        async with HubRuntime(bench_settings(Path(tmp), args)) as hub:
            collector.settle_after_start()  # as fieldhub up does
            services = hub.services
            per = args.messages // args.publishers
            specs = []
            for i in range(args.publishers):
                created = await services.registry.create_device(DeviceCreate(id=f"bench-{i}", name="bench"), "default")
                specs.append(
                    PublisherSpec(
                        "127.0.0.1",
                        hub.mqtt_port,
                        created.id,
                        created.id,
                        created.credentials.password,
                        f"devices/{created.id}/telemetry",
                        per,
                        args.batch,
                        args.qos,
                    )
                )
            if prepare is not None:
                await prepare(hub, [spec.client_id for spec in specs])
            value = services.metrics.registry.get_sample_value
            pubs = Publishers(specs)
            await asyncio.to_thread(pubs.start)
            total = per * args.publishers
            with latencies(services.pipeline) as measured:
                started = pubs.go()
                ended = await wait_for(lambda: int(value("fieldhub_ingest_messages_total") or 0), total)
                await asyncio.to_thread(pubs.join)
            if finish is not None:
                await finish(hub, [spec.client_id for spec in specs])
            stored_msgs = int(value("fieldhub_ingest_messages_total") or 0)
            stored_points = int(value("fieldhub_store_points_written_total") or 0)
            elapsed = ended - started
            return {
                "sent": total,
                "stored": stored_msgs,
                "lost": total - stored_msgs,
                "msgs_per_s": stored_msgs / elapsed,
                "points_per_s": stored_points / elapsed,
                **percentiles(measured),
            }


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    if args.broker == "mosquitto":
        from cloud.bench import mosquitto  # noqa: PLC0415 - needs Mosquitto's binaries, only for this variant

        return await mosquitto.run(args)
    base = await baseline(args)
    pipe = await pipeline(args)
    return {
        "broker": "embedded amqtt",
        "streams": args.stream,
        "qos": args.qos,
        "batch": args.batch,
        "publishers": args.publishers,
        "baseline_msgs_per_s": round(base["msgs_per_s"], 1),
        "baseline_lost": base["sent"] - base["received"],
        "pipeline_msgs_per_s": round(pipe["msgs_per_s"], 1),
        "points_per_s": round(pipe["points_per_s"], 1),
        "ratio": round(pipe["msgs_per_s"] / base["msgs_per_s"], 3),
        "p50_ms": pipe["p50_ms"],
        "p99_ms": pipe["p99_ms"],
        "sent": pipe["sent"],
        "stored": pipe["stored"],
        "lost": pipe["lost"],
    }


def _report(result: dict[str, Any], args: argparse.Namespace) -> None:
    mosquitto = result["broker"] == "mosquitto"
    print(
        f"ingest benchmark ({result['broker']}): {result['sent']} messages x {args.batch} reading(s), "
        f"QoS {args.qos}, {args.publishers} publisher processes"
    )
    kind = "Mosquitto -> paho subscriber" if mosquitto else "amqtt pub->sub"
    print(f"  baseline (raw {kind}): {result['baseline_msgs_per_s']:>10.0f} msg/s")
    if mosquitto:
        print(f"  broker ceiling (Mosquitto -> mosquitto_sub, C): {result['baseline_c_msgs_per_s']:>6.0f} msg/s")
    sinks = "".join(f"+{url.split(':', 1)[0]}" for url in args.stream)
    print(
        f"  pipeline (auth+ACL+ingest+SQLite{sinks}): {result['pipeline_msgs_per_s']:>6.0f} msg/s, "
        f"{result['points_per_s']:.0f} points/s stored"
    )
    if result.get("replicas"):
        print(f"  with {result['replicas']} ingest replica process(es) beside the hub")
    print(f"  ratio pipeline/baseline: {result['ratio']:.2f}")
    print(f"  latency device->stored at full speed: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms")
    if "paced" in result:
        paced = result["paced"]
        steady = (
            f"p50 {paced['steady_p50_ms']} ms, p99 {paced['steady_p99_ms']} ms"
            if paced["steady_p99_ms"] is not None
            else "none (the run was shorter)"
        )
        print(
            f"  latency at half that rate ({paced['rate_msgs_per_s']:.0f} msg/s): "
            f"p50 {paced['p50_ms']} ms, p99 {paced['p99_ms']} ms; after the first second's warm-up: {steady}"
        )
    lost = result["lost"] - sum(result.get(variant, {}).get("lost", 0) for variant in ("kafka", "paho_link"))
    print(f"  stored {result['stored']} of {result['sent']}, lost {lost}")
    if "kafka" in result:
        kafka = result["kafka"]
        print(
            f"  pipeline + Kafka sink (hub alone): {kafka['pipeline_msgs_per_s']:>6.0f} msg/s, "
            f"{kafka['points_per_s']:.0f} points/s stored, ratio {kafka['ratio']:.2f}; stored {kafka['stored']} "
            f"of {kafka['sent']}, {kafka['records']} records in the topic, lost {kafka['lost']}"
        )
    if "paho_link" in result:
        paho = result["paho_link"]
        print(
            f"  pipeline on paho-mqtt driven from the loop (hub alone): {paho['pipeline_msgs_per_s']:>6.0f} msg/s, "
            f"{paho['points_per_s']:.0f} points/s stored; stored {paho['stored']} of {paho['sent']}, "
            f"lost {paho['lost']}"
        )
        print(
            f"  link paho/own: {paho['ratio_to_own']:.2f} ({paho['pipeline_msgs_per_s']:.0f} vs "
            f"{result['pipeline_msgs_per_s']:.0f} msg/s, {paho['points_per_s']:.0f} vs "
            f"{result['points_per_s']:.0f} points/s)"
        )


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    # amqtt warns about every late PUBACK of the saturated baseline subscriber.
    logging.getLogger("amqtt").setLevel(logging.ERROR)
    if args.kafka and args.broker != "mosquitto":
        print("fieldhub bench ingest: --kafka needs --broker mosquitto", file=sys.stderr)
        return 2
    if args.paho and (args.broker != "mosquitto" or args.replicas):
        # Replicas are processes of their own, on the hub's link: with them the runs would not compare links.
        print("fieldhub bench ingest: --paho needs --broker mosquitto and no --replicas", file=sys.stderr)
        return 2
    result = asyncio.run(_run(args))
    if args.json:
        print(json.dumps(result, allow_nan=False))
    else:
        _report(result, args)
    return 0 if result["lost"] == 0 else 1

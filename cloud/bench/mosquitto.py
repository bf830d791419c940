"""Ingest benchmark on Mosquitto: the raw broker (baseline) vs the Fieldhub pipeline behind it.

Both runs use the same load generator (``mosquitto_pub`` processes, one per device, QoS 1) and a
Mosquitto configured the same way (:class:`ManagedMosquitto`, dynamic security, the same device
accounts). Baseline: a plain paho subscriber receives every message, QoS 1; a C subscriber
(``mosquitto_sub``) is measured too, to show the broker's own ceiling. Pipeline: ``fieldhub up
--broker mosquitto`` in this process reads its shared subscription and stores into SQLite, with
``--replicas`` ingest replica processes taking their share. Stored points are counted in the
database itself, whichever process wrote them; latency is measured on this process's share.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from cloud import collector
from cloud.bench.cload import CPublishers, Device, wait_until
from cloud.bench.common import CountingSubscriber, bench_settings, latencies, percentiles, stored_points, wait_for
from cloud.bench.paho_link import PahoLink
from cloud.bench.tansu import records_in, running_tansu
from cloud.ingest_replica import replica_command
from cloud.runtime import HubRuntime
from contracts.devices import DeviceCreate
from hub.broker.mosquitto.link import LinkFactory, MqttLink
from hub.broker.mosquitto.managed import ManagedMosquitto
from hub.security.passwords import new_secret
from hub.store.registry import DeviceSecret
from hub.streams.kafka import DEFAULT_TOPIC

SERVICE_USER = "bench"
CONNECTED_TOPIC = "$SYS/broker/clients/connected"


def per_device(args: argparse.Namespace) -> int:
    return int(args.messages // args.publishers)


def _rate(count: int, started: float, ended: float) -> float:
    return count / (ended - started) if ended > started else 0.0


async def _paho_baseline(port: int, password: str, devices: list[Device], args: argparse.Namespace) -> float:
    # MQTT 3.1.1 like the hub's own link (see hub/broker/mosquitto/link.py): like for like.
    async with CountingSubscriber(port, 1, SERVICE_USER, password) as sub:
        total = per_device(args) * len(devices)
        pubs = CPublishers(port, devices, per_device(args), args.batch)
        sending = asyncio.create_task(asyncio.to_thread(pubs.run))
        ended = await wait_for(lambda: sub.received, total)
        return _rate(sub.received, await sending, ended)


async def _c_baseline(port: int, password: str, devices: list[Device], args: argparse.Namespace) -> float:
    total = per_device(args) * len(devices)
    sub = await asyncio.create_subprocess_exec(
        *(shutil.which("mosquitto_sub") or "mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1"),
        *("-u", SERVICE_USER, "-P", password, "-i", "bench-csub", "-t", "devices/+/telemetry", "-C", str(total)),
        stdout=subprocess.DEVNULL,
    )
    # mosquitto_sub prints nothing before its subscription is granted; give it its connect round trip.
    await asyncio.sleep(0.5)
    pubs = CPublishers(port, devices, per_device(args), args.batch)
    started = await asyncio.to_thread(pubs.run)
    await sub.wait()
    return _rate(total, started, time.perf_counter())


async def baseline(secrets: list[DeviceSecret], devices: list[Device], args: argparse.Namespace) -> dict[str, float]:
    password = new_secret()
    with tempfile.TemporaryDirectory(prefix="fieldhub-bench-base-") as tmp:
        broker = ManagedMosquitto(
            Path(tmp), "127.0.0.1", 0, service_user=SERVICE_USER, service_password=password, devices=secrets
        )
        async with broker:
            paho_rate = await _paho_baseline(broker.port, password, devices, args)
            c_rate = await _c_baseline(broker.port, password, devices, args)
    return {"paho": paho_rate, "c": c_rate}


async def _measure_pipeline(
    hub: HubRuntime, devices: list[Device], args: argparse.Namespace, rate: float | None, first_seq: int
) -> tuple[dict[str, float], dict[str, float | None]]:
    """The counts and rates of one run, and its latency percentiles."""
    with latencies(hub.services.pipeline) as measured:
        counted = await _count_pipeline(hub, devices, args, rate=rate, first_seq=first_seq)
    return counted, percentiles(measured)


async def _count_pipeline(
    hub: HubRuntime,
    devices: list[Device],
    args: argparse.Namespace,
    *,
    rate: float | None,
    first_seq: int,
) -> dict[str, float]:
    with stored_points(hub.settings.data_dir / "fieldhub.db") as count:
        before = count()
        total = per_device(args) * len(devices)
        pubs = CPublishers(hub.mqtt_port, devices, per_device(args), args.batch, rate=rate, first_seq=first_seq)
        with _connected_clients(hub) as connected:
            # Connected besides the publishers: the hub's link, its replicas' and this count's own client.
            idle = 2 + args.replicas
            if rate is not None:
                # The last run's publishers must be gone, or their sessions would pass for this run's.
                await asyncio.to_thread(
                    wait_until, lambda: connected() == idle, 10.0, "the last run's publishers to leave"
                )
            ready = lambda: connected() == idle + len(devices)  # noqa: E731 - read from the load's thread
            sending = asyncio.create_task(asyncio.to_thread(pubs.run, ready))
            ended = await wait_for(lambda: (count() - before) // args.batch, total, poll_s=0.05)
            started = await sending
        points = count() - before
    stored = points // args.batch
    return {
        "sent": total,
        "stored": stored,
        "lost": total - stored,
        "msgs_per_s": _rate(stored, started, ended),
        "points_per_s": _rate(points, started, ended),
    }


@contextmanager
def _connected_clients(hub: HubRuntime) -> Iterator[Callable[[], int]]:
    """How many clients the hub's managed Mosquitto has connected now, as its ``$SYS`` topic says.

    Mosquitto tells no client of another's session, and ``mosquitto_pub`` does not announce itself
    on a status topic, so the broker's own count (published every second by a managed broker) is
    what says when the publishers are connected. Read with the hub's service account.
    """
    password = (hub.settings.data_dir / "mosquitto" / "service.secret").read_text().strip()
    count = [-1]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sys-{new_secret()[:8]}")
    client.username_pw_set(hub.settings.mosquitto.username, password)
    client.on_connect = lambda c, *_: c.subscribe(CONNECTED_TOPIC, qos=0)
    client.on_message = lambda _c, _u, message: count.__setitem__(0, int(message.payload))
    client.connect(hub.settings.local_host, hub.mqtt_port)
    client.loop_start()
    try:
        yield lambda: count[0]
    finally:
        client.disconnect()
        client.loop_stop()


@contextmanager
def replicas(data_dir: Path, port: int, count: int) -> Iterator[list[subprocess.Popen[str]]]:
    """``count`` ingest replica processes beside the hub, stopped on the way out."""
    procs = []
    try:
        for n in range(count):
            command, env = replica_command(data_dir, port, f"bench-{n}")
            proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            procs.append(proc)
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("Ingest replica"):
                    break
            else:
                raise RuntimeError(f"ingest replica {n} did not start (exit {proc.wait()})")
            # Keep reading what it prints: a full pipe would stall it.
            threading.Thread(target=proc.stdout.read, daemon=True).start()
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)


@asynccontextmanager
async def _bench_hub(
    data_dir: Path, args: argparse.Namespace, stream: list[str], link: LinkFactory = MqttLink
) -> AsyncIterator[tuple[HubRuntime, list[Device]]]:
    """A hub on a managed Mosquitto, reading it through ``link``, with ``args.publishers`` devices registered."""
    async with HubRuntime(bench_settings(data_dir, args, broker="mosquitto", stream=stream), link=link) as hub:
        collector.settle_after_start()  # as fieldhub up does
        devices = []
        for i in range(args.publishers):
            created = await hub.services.registry.create_device(DeviceCreate(id=f"bench-{i}", name="bench"), "default")
            devices.append(Device(created.id, created.credentials.password))
        yield hub, devices


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fieldhub-bench-") as tmp:
        async with _bench_hub(Path(tmp), args, args.stream) as (hub, devices):
            secrets = await hub.services.store.registry.list_device_secrets()
            base = await baseline(secrets, devices, args)
            with replicas(Path(tmp), hub.mqtt_port, args.replicas):
                pipe, pipe_latency = await _measure_pipeline(hub, devices, args, None, 0)
                paced = None
                if args.paced:
                    # Half the maximum; new sequence numbers, or the store would drop them as redeliveries.
                    paced = await _measure_pipeline(hub, devices, args, pipe["msgs_per_s"] / 2, per_device(args))
    result: dict[str, Any] = {
        "broker": "mosquitto",
        "replicas": args.replicas,
        "baseline_msgs_per_s": round(base["paho"], 1),
        "baseline_c_msgs_per_s": round(base["c"], 1),
        **_figures(pipe, pipe_latency, base["paho"]),
    }
    if paced is not None:
        paced_count, paced_latency = paced
        result["paced"] = {"rate_msgs_per_s": round(pipe["msgs_per_s"] / 2, 1), **paced_latency}
        result["paced"]["lost"] = paced_count["lost"]
        result["lost"] += paced_count["lost"]
    if args.kafka:
        result["kafka"] = await _kafka_variant(args, base["paho"])
        result["lost"] += result["kafka"]["lost"]
    if args.paho:
        result["paho_link"] = await _paho_variant(args, base["paho"], pipe["msgs_per_s"])
        result["lost"] += result["paho_link"]["lost"]
    return result


def _figures(counted: dict[str, float], latency: dict[str, float | None], baseline_rate: float) -> dict[str, Any]:
    return {
        "pipeline_msgs_per_s": round(counted["msgs_per_s"], 1),
        "ratio": round(counted["msgs_per_s"] / baseline_rate, 3) if baseline_rate else None,
        "points_per_s": round(counted["points_per_s"], 1),
        "p50_ms": latency["p50_ms"],
        "p99_ms": latency["p99_ms"],
        "sent": counted["sent"],
        "stored": counted["stored"],
        "lost": counted["lost"],
    }


async def _kafka_variant(args: argparse.Namespace, baseline_rate: float) -> dict[str, Any]:
    """The pipeline again, the hub alone, each message acknowledged only once SQLite and Kafka have it."""
    async with running_tansu() as url:
        with tempfile.TemporaryDirectory(prefix="fieldhub-bench-kafka-") as tmp:
            async with _bench_hub(Path(tmp), args, [*args.stream, url]) as (hub, devices):
                counted, latency = await _measure_pipeline(hub, devices, args, None, 0)
        # One record per message; a message delivered again may be written twice (same device and seq).
        topic = DEFAULT_TOPIC.format(tenant="default")
        records, distinct = await asyncio.to_thread(records_in, url.removeprefix("kafka://"), topic)
    figures = _figures(counted, latency, baseline_rate)
    return {**figures, "records": records, "lost": figures["sent"] - min(figures["stored"], distinct)}


async def _paho_variant(args: argparse.Namespace, baseline_rate: float, own_rate: float) -> dict[str, Any]:
    """The pipeline again, the same load on a hub of its own, reading Mosquitto through paho on the loop."""
    with tempfile.TemporaryDirectory(prefix="fieldhub-bench-paho-") as tmp:
        async with _bench_hub(Path(tmp), args, args.stream, link=PahoLink) as (hub, devices):
            counted, latency = await _measure_pipeline(hub, devices, args, None, 0)
    figures = _figures(counted, latency, baseline_rate)
    return {**figures, "ratio_to_own": round(counted["msgs_per_s"] / own_rate, 3) if own_rate else None}

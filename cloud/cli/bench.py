"""``fieldhub bench ...``: measured figures, each against a baseline run alongside (docs/benchmarks.md)."""

from __future__ import annotations

import argparse
from importlib import import_module
from typing import Any

import click


@click.group()
def bench() -> None:
    """Measured figures, each against a baseline run in the same invocation (docs/benchmarks.md)."""


@bench.command()
@click.option("--messages", type=int, default=20_000, help="Messages per run")
@click.option("--batch", type=int, default=1, help="Reading objects per message")
@click.option("--publishers", type=int, default=2, help="Publisher processes")
@click.option("--qos", type=click.Choice(["0", "1"]), default="1", help="MQTT QoS of the publishes")
@click.option("--stream", multiple=True, metavar="URL", help="Also write to this stream (kafka:// or nats://)")
@click.option(
    "--broker",
    type=click.Choice(["embedded", "mosquitto"]),
    default="embedded",
    help="The broker in front (mosquitto: managed, with mosquitto_pub load and a paho baseline)",
)
@click.option("--replicas", type=int, default=0, help="Ingest replica processes beside the hub (mosquitto)")
@click.option("--paced", is_flag=True, help="Also measure latency at half the maximum rate")
@click.option(
    "--kafka", is_flag=True, help="Also measure the pipeline with a Kafka sink, on a Tansu the bench starts (mosquitto)"
)
@click.option(
    "--paho",
    is_flag=True,
    help="Also measure the pipeline with paho-mqtt, driven from the event loop, as the hub's broker link "
    "(mosquitto, without --replicas)",
)
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object")
def ingest(qos: str, stream: tuple[str, ...], json_output: bool, **options: Any) -> int:
    """Messages/s and points/s stored, with the raw broker as baseline."""
    return _run("ingest", qos=int(qos), stream=list(stream), json=json_output, **options)


@bench.command()
@click.option("--messages", type=click.IntRange(min=100), default=20_000, help="Messages per ingest run")
@click.option("--publishers", type=click.IntRange(min=1), default=2, help="Publisher processes (one device each)")
@click.option("--rounds", type=click.IntRange(min=1), default=3, help="Runs without and with rules, alternating")
@click.option("--alarms", type=click.IntRange(min=1), default=200, help="Alarms raised for the webhook timing")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object")
def alarms(json_output: bool, **options: Any) -> int:
    """Ingest with 1,000 rules against the same run without, and threshold-to-webhook time."""
    return _run("alarms", json=json_output, **options)


@bench.command("http-ingest")
@click.option("--seconds", type=click.FloatRange(min=1), default=5.0, help="Measured time of each run")
@click.option("--clients", type=click.IntRange(min=1), default=8, help="Concurrent keep-alive clients (httpx)")
@click.option("--processes", type=click.IntRange(min=1), default=2, help="Load processes the clients are spread over")
@click.option(
    "--batch",
    "batches",
    type=click.IntRange(min=1, max=1000),
    multiple=True,
    default=(1, 100),
    show_default=True,
    help="Readings per request, one run each; the first run is the baseline",
)
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object")
def http_ingest(json_output: bool, **options: Any) -> int:
    """Requests/s and points/s through HTTP ingest per batch size, with the first batch size as baseline."""
    return _run("http_ingest", json=json_output, **options)


@bench.command()
@click.option("--readings", type=int, default=100_000, help="Backlog to replay")
@click.option("--seconds", type=float, default=10.0, help="CPU measurement window")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object")
def agent(json_output: bool, **options: Any) -> int:
    """Agent memory, CPU per 1,000 readings/s and spool replay rate."""
    return _run("agent", json=json_output, **options)


@bench.command()
@click.option("--nodes", type=click.IntRange(min=1), default=1000, help="Candidate nodes")
@click.option("--deployments", type=click.IntRange(min=1), default=1000, help="Deployments placed one after the other")
@click.option("--seed", type=int, default=1, help="Seed of the generated nodes and deployments")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object")
def placement(json_output: bool, **options: Any) -> int:
    """Time per placement decision and in all, with a load-only choice as baseline."""
    return _run("placement", json=json_output, **options)


@bench.command()
@click.option("--clients", type=click.IntRange(min=1), default=32, help="Concurrent keep-alive connections")
@click.option("--seconds", type=click.FloatRange(min=1), default=10.0, help="Measured time of each run")
@click.option(
    "--app",
    type=click.Choice(["aiohttp", "stdlib"]),
    default="aiohttp",
    help="The app behind the link: aiohttp, or http.server as the app template uses",
)
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object")
def link(json_output: bool, **options: Any) -> int:
    """Requests/s and p99 through an app's link (hub, tunnel, node), with the app served directly as baseline."""
    return _run("link", json=json_output, **options)


@bench.command()
@click.option("--runs", type=click.IntRange(min=1), default=3, help="Cached redeployments (the best is kept)")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object")
def apps(json_output: bool, **options: Any) -> int:
    """Push-to-running of the template app (cold, cached) and the agent's memory with an app running."""
    return _run("apps", json=json_output, **options)


@bench.command()
@click.option("--lines", type=click.IntRange(min=1000), default=1_000_000, help="Lines stored, then searched")
@click.option("--batch", type=click.IntRange(min=1), default=500, help="Lines per write (as nodes ship them)")
@click.option("--searches", type=click.IntRange(min=1), default=30, help="Runs of each kind of query")
@click.option("--seed", type=int, default=1, help="Seed of the generated lines and queries")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object")
def logs(json_output: bool, **options: Any) -> int:
    """Log ingest lines/s through the store (baseline: without the full-text index) and search p50/p99."""
    return _run("logs", json=json_output, **options)


@bench.command()
@click.option("--points", type=click.IntRange(min=10_000), default=10_000_000, help="Points of the series, over a year")
@click.option("--batch", type=click.IntRange(min=1), default=10_000, help="Points per write")
@click.option("--queries", type=click.IntRange(min=5), default=20, help="Runs of the query from the rollups")
@click.option("--store", metavar="URL", help="The store to write into [default: SQLite in a temporary directory]")
@click.option(
    "--ferretdb", metavar="PATH", help="Instead of --store: start this FerretDB executable, use the MongoDB store"
)
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object")
def rollups(json_output: bool, **options: Any) -> int:
    """A one-year hourly average from the rollups, with the same query from every raw point as baseline."""
    return _run("rollups", json=json_output, **options)


@bench.command()
@click.option("--url", metavar="URL", help="The MongoDB server (mongodb://...); a database of the bench's own per run")
@click.option(
    "--ferretdb",
    metavar="PATH",
    help="Instead of --url: start this FerretDB executable for the run (make bench passes the tests' build)",
)
@click.option("--batches", type=click.IntRange(min=1), default=200, help="Batches written per run")
@click.option("--points", type=click.IntRange(min=1), default=100, help="Points per batch")
@click.option(
    "--devices",
    type=click.IntRange(min=1),
    multiple=True,
    default=(1, 10, 100),
    show_default=True,
    help="Devices per batch, one run each",
)
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object")
def mongo(json_output: bool, **options: Any) -> int:
    """Ingest points/s into the MongoDB store, with an insert_many of the same bucket documents as baseline."""
    return _run("mongo", json=json_output, **options)


@bench.command()
@click.option("--runs", type=click.IntRange(min=1), default=10, help="Nodes killed, one after the other")
@click.option("--restarts", type=click.IntRange(min=1), default=5, help="App processes killed")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object")
def failover(json_output: bool, **options: Any) -> int:
    """Last heartbeat to serving on another node when a node dies, and a killed app's restart."""
    return _run("failover", json=json_output, **options)


@bench.command()
@click.option("--messages", type=click.IntRange(min=100), default=20_000, help="Readings per run")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object")
def takeover(json_output: bool, **options: Any) -> int:
    """A killed ingest replica's share stored without a restart: time to all stored, against both alive."""
    return _run("takeover", json=json_output, **options)


@bench.command()
@click.option("--devices", type=click.IntRange(min=10), default=10_000, help="Devices registered for the big page")
@click.option("--loads", type=click.IntRange(min=1), default=5, help="Cold page loads per figure (the median)")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object")
def portal(json_output: bool, **options: Any) -> int:
    """Devices page first render with many devices (baseline: 10), JavaScript shipped, a live chart's rate."""
    return _run("portal", json=json_output, **options)


@bench.command()
@click.option(
    "--devices", type=click.IntRange(min=1), default=1000, help="Device connections held, each its own account"
)
@click.option(
    "--interval", type=click.FloatRange(min=0.1), default=10.0, help="Seconds between two messages of a device"
)
@click.option(
    "--duration", type=click.FloatRange(min=0.1), default=30.0, help="Seconds of publishing once all connected"
)
@click.option("--bad", type=click.IntRange(min=0), default=0, help="More devices that connect with a wrong password")
@click.option("--workers", type=click.IntRange(min=1, max=251), default=2, help="Load processes (more if needed)")
@click.option("--keepalive", type=click.IntRange(min=5, max=65535), default=60, help="MQTT keepalive of each device")
@click.option("--connect-timeout", type=click.FloatRange(min=1), default=30.0, help="Seconds to wait for a CONNACK")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object")
def connections(json_output: bool, **options: Any) -> int:
    """Many devices held through Mosquitto: connect rate, refusals, stored/s, memory, lost."""
    return _run("connections", json=json_output, **options)


@bench.command()
@click.option("--devices", type=click.IntRange(min=100), default=100_000, help="Devices registered, then listed")
@click.option("--single", type=click.IntRange(min=1), default=2000, help="Of those, registered one per call")
@click.option("--batch", type=click.IntRange(min=1, max=500), default=500, help="Devices per batched registration")
@click.option("--queries", type=click.IntRange(min=1), default=30, help="Runs of each filtered listing")
@click.option(
    "--mosquitto",
    type=click.IntRange(min=0),
    default=0,
    help="Also register this many devices on a running Mosquitto, singly and batched (each from none)",
)
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object")
def registry(json_output: bool, **options: Any) -> int:
    """Registration rate (scrypt baseline), filtered listing p50/p99 and the broker sync on start."""
    return _run("registry", json=json_output, **options)


def _run(name: str, **options: Any) -> int:
    # Heavy imports only when benchmarking; the benchmarks read their options as attributes.
    main = import_module(f"cloud.bench.{name}").main
    code: int = main(argparse.Namespace(**options))
    return code

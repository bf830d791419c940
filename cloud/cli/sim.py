"""``fieldhub sim``: N simulated devices publishing real MQTT with their own credentials."""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from typing import Any
from urllib.parse import urlsplit

import click

from cloud.cli.client import ApiClient, ApiError, connect
from cloud.cli.errors import fail
from cloud.cli.options import hub_options, invocation

#: The label every simulated device carries; only a device with it is taken over or removed.
SIMULATED_LABEL = "simulated"


@click.command()
@hub_options
@click.option("--devices", type=int, default=10, help="How many devices")
@click.option("--rate", type=float, default=1.0, help="Messages per second per device")
@click.option("--batch", type=int, default=1, help="Readings objects per message")
@click.option("--qos", type=click.Choice(["0", "1"]), default="1", help="MQTT QoS of the publishes")
@click.option("--mqtt", help="Broker URL mqtt://host:port [default: the hub's host, port 1883]")
@click.option("--tenant", help="Tenant of the simulated devices")
@click.option("--prefix", default="sim", help="Device id prefix")
@click.option("--duration", type=float, help="Stop after this many seconds [default: at Ctrl-C]")
@click.option("--keep", is_flag=True, help="Leave the devices registered when it stops [default: remove them]")
def sim(qos: str, **options: Any) -> int:
    """Simulated devices publishing real MQTT, each with its own credentials, until Ctrl-C.

    The devices (PREFIX-0001, ...) are registered through the HTTP API with the label simulated=true; a
    simulated device left by an earlier run gets new credentials, any other device of that id is left
    alone. When it stops (Ctrl-C, SIGTERM or --duration) it removes its devices, unless --keep.
    """
    inv = invocation()
    return run(argparse.Namespace(hub=inv.hub_url(), user=inv.username, qos=int(qos), **options))


def _credentials(api: ApiClient, args: argparse.Namespace, taken: list[str]) -> list[tuple[str, str]]:
    """Register the devices (or take over earlier simulated ones), adding each id to ``taken`` as it goes."""
    creds = []
    for i in range(1, args.devices + 1):
        device_id = f"{args.prefix}-{i:04d}"
        body = {"id": device_id, "name": f"Simulated {i}", "labels": {SIMULATED_LABEL: "true"}}
        if args.tenant:
            body["tenant"] = args.tenant
        try:
            secret = api.post("/api/v1/devices", body)["credentials"]["password"]
        except ApiError as exc:
            if exc.status != 409:
                fail(exc.message)
            _check_simulated(api, device_id)
            secret = api.post(f"/api/v1/devices/{device_id}/credentials")["password"]
        taken.append(device_id)
        creds.append((device_id, secret))
    return creds


def _check_simulated(api: ApiClient, device_id: str) -> None:
    """Take over only a device an earlier run left: new credentials (or removing it) would cut off a real one."""
    try:
        labels = api.get(f"/api/v1/devices/{device_id}")["labels"]
    except ApiError as exc:
        if exc.status != 404:
            raise
        labels = {}  # taken in another tenant, out of sight: not ours either
    if labels.get(SIMULATED_LABEL) != "true":
        fail(f"device {device_id!r} exists and is not a simulated one: choose another --prefix")


def _remove(api: ApiClient, device_ids: list[str]) -> None:
    """Delete the devices the simulation registered (their telemetry goes with them)."""
    removed = 0
    for device_id in device_ids:
        try:
            api.delete(f"/api/v1/devices/{device_id}")
        except ApiError as exc:
            if exc.status != 404:  # already gone is as good as removed
                print(f"could not remove {device_id}: {exc.message}", flush=True)
                continue
        removed += 1
    print(f"removed {_devices(removed)} (--keep leaves them)", flush=True)


def _devices(count: int) -> str:
    return f"{count} simulated device{'' if count == 1 else 's'}"


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


async def _run(args: argparse.Namespace, creds: list[tuple[str, str]], host: str, port: int) -> None:
    from cloud.simulator import Fleet, SimDevice  # noqa: PLC0415

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.duration:
        loop.call_later(args.duration, stop.set)
    devices = [SimDevice(d, s) for d, s in creds]
    started = time.monotonic()
    async with Fleet(devices, host, port, rate=args.rate, batch=args.batch, qos=args.qos) as fleet:
        while not stop.is_set():
            try:
                async with asyncio.timeout(5):
                    await stop.wait()
            except TimeoutError:
                pass
            s = fleet.stats.snapshot()
            elapsed = time.monotonic() - started
            print(
                f"{elapsed:7.1f}s connected={s['connected']} published={s['published']} acked={s['acked']} "
                f"({s['acked'] / elapsed:.0f} msg/s)",
                flush=True,
            )


def run(args: argparse.Namespace) -> int:
    if args.devices < 1 or args.rate <= 0 or args.batch < 1:
        fail("--devices and --batch must be >= 1 and --rate > 0")
    hub = urlsplit(args.hub)
    broker = urlsplit(args.mqtt or f"mqtt://{hub.hostname}:1883")
    if broker.scheme != "mqtt" or not broker.hostname:
        fail(f"--mqtt {args.mqtt!r} must look like mqtt://host:port")
    api = connect(args.hub, args.user)
    port = broker.port or 1883
    taken: list[str] = []
    # SIGTERM stops the simulation as Ctrl-C does, also while the devices are being registered; the
    # fleet's own handlers take over while it runs.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        creds = _credentials(api, args, taken)
        print(f"simulating {len(creds)} devices at {args.rate:g} msg/s each against {broker.hostname}:{port}")
        asyncio.run(_run(args, creds, broker.hostname, port))
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            if args.keep:
                print(f"left {_devices(len(taken))} registered (--keep)", flush=True)
            else:
                _remove(api, taken)
        finally:
            signal.signal(signal.SIGTERM, previous)
    return 0

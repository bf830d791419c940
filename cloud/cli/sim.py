"""``fieldhub sim``: N simulated devices publishing real MQTT with their own credentials."""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from urllib.parse import urlsplit

from cloud.cli.client import ApiClient, ApiError, add_connection_arguments, fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser)
    parser.add_argument("--devices", type=int, default=10, help="how many devices (default 10)")
    parser.add_argument("--rate", type=float, default=1.0, help="messages per second per device (default 1)")
    parser.add_argument("--batch", type=int, default=1, help="readings objects per message (default 1)")
    parser.add_argument("--qos", type=int, choices=[0, 1], default=1)
    parser.add_argument("--mqtt", default=None, help="broker URL mqtt://host:port (default: hub host, port 1883)")
    parser.add_argument("--tenant", help="tenant of the simulated devices")
    parser.add_argument("--prefix", default="sim", help="device id prefix (default sim)")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")


def _credentials(api: ApiClient, args: argparse.Namespace) -> list[tuple[str, str]]:
    creds = []
    for i in range(1, args.devices + 1):
        device_id = f"{args.prefix}-{i:04d}"
        body = {"id": device_id, "name": f"Simulated {i}", "labels": {"simulated": "true"}}
        if args.tenant:
            body["tenant"] = args.tenant
        try:
            secret = api.post("/api/v1/devices", body)["credentials"]["password"]
        except ApiError as exc:
            if exc.status != 409:
                fail(exc.message)
            secret = api.post(f"/api/v1/devices/{device_id}/credentials")["password"]
        creds.append((device_id, secret))
    return creds


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
    creds = _credentials(ApiClient(args.hub, args.user), args)
    port = broker.port or 1883
    print(f"simulating {len(creds)} devices at {args.rate:g} msg/s each against {broker.hostname}:{port}")
    asyncio.run(_run(args, creds, broker.hostname, port))
    return 0

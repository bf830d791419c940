"""``fieldhub up``: the whole cloud hub in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import sys
from functools import partial
from pathlib import Path

from cloud import collector
from cloud.cli import logs
from cloud.cli.foreground import run_until_stopped


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cloud.brokers import BROKERS  # noqa: PLC0415 - hub dependencies load only for this command
    from hub.store.factory import STORES  # noqa: PLC0415
    from hub.streams.factory import SINKS  # noqa: PLC0415

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "backends (docs/configuration.md):\n" + "\n".join(
        f"  {registry.kind:<7} {example:<38} {summary}"
        for registry in (BROKERS, STORES, SINKS)
        for _, example, summary in registry.table()
    )
    parser.add_argument("--data-dir", type=Path, help="where the database and keys live (default ./data)")
    parser.add_argument("--host", help="address both listeners bind to (default 127.0.0.1)")
    parser.add_argument("--mqtt-port", type=int, help="MQTT port (default 1883; 0 picks a free one)")
    parser.add_argument("--http-port", type=int, help="HTTP port (default 8080; 0 picks a free one)")
    parser.add_argument(
        "--probe-port", type=int, help="also serve /healthz and /metrics without a token here (0 picks a free one)"
    )
    parser.add_argument("--config", type=Path, help="TOML config file")
    parser.add_argument(
        "--stream",
        action="append",
        metavar="URL",
        help=f"also forward stored telemetry to this stream, repeatable: {' or '.join(SINKS.names())} (see below)",
    )
    parser.add_argument(
        "--broker",
        metavar="BROKER",
        help=f"the MQTT broker: {', '.join(BROKERS.names())} (see below; default embedded). An external "
        "Mosquitto's account comes from FIELDHUB_MOSQUITTO__USERNAME / FIELDHUB_MOSQUITTO__PASSWORD",
    )
    parser.add_argument(
        "--store",
        metavar="URL",
        help=f"the store: {', '.join(STORES.names())} (see below; default sqlite:///<data-dir>/fieldhub.db)",
    )
    parser.add_argument(
        "--demo", action="store_true", default=None, help="demo tenant and simulated devices; relaxes security checks"
    )


async def _serve(args: argparse.Namespace, stop: asyncio.Event) -> int:
    from cloud.runtime import HubRuntime  # noqa: PLC0415 - hub dependencies load only for this command
    from cloud.settings import load_settings  # noqa: PLC0415

    settings = load_settings(
        args.config,
        data_dir=args.data_dir,
        host=args.host,
        mqtt_port=args.mqtt_port,
        http_port=args.http_port,
        probe_port=args.probe_port,
        demo=args.demo,
        stream=args.stream,
        broker=args.broker,
        store=args.store,
    )
    logs.configure(settings.log_level)
    async with HubRuntime(settings) as hub:
        collector.settle_after_start()
        print(f"Fieldhub is up: {hub.url}  (API docs {hub.url}/docs)")
        if hub.mqtts_port is not None:
            print(f"MQTT over TLS: mqtts://{settings.host}:{hub.mqtts_port}")
        print(f"MQTT broker: mqtt://{settings.host}:{hub.mqtt_port}")
        if hub.probe_port is not None:
            print(f"Health and metrics: http://{settings.host}:{hub.probe_port}/healthz and /metrics")
        if hub.generated_admin_password:
            print(f"Admin login: admin / {hub.generated_admin_password}  (shown once; set FIELDHUB_ADMIN_PASSWORD)")
        else:
            print("Admin login: admin / the password set by FIELDHUB_ADMIN_PASSWORD or shown at first start")
        sys.stdout.flush()
        if settings.demo:
            from cloud import demo  # noqa: PLC0415
            from cloud.simulator import Fleet  # noqa: PLC0415

            devices = await demo.prepare(hub.services)
            async with Fleet(devices, settings.local_host, hub.mqtt_port, rate=1.0):
                print(f"Demo: {len(devices)} simulated devices in tenant 'demo' publish once a second.")
                sys.stdout.flush()
                await stop.wait()
        else:
            await stop.wait()
        print("Shutting down: flushing accepted messages to the store...")
    return 0


def run(args: argparse.Namespace) -> int:
    return run_until_stopped("up", partial(_serve, args))

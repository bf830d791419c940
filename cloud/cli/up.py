"""``fieldhub up``: the whole cloud hub in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import sys
from functools import partial
from pathlib import Path
from typing import Any

import click

from cloud import collector
from cloud.brokers import BROKERS
from cloud.cli import logs
from cloud.cli.foreground import run_until_stopped
from hub.blobs.factory import BLOBS
from hub.store.factory import STORES
from hub.streams.factory import SINKS


class _UpCommand(click.Command):
    """``--help`` ends with every backend by kind, as docs/configuration.md lists them."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Backends (docs/configuration.md)"):
            for registry in (BROKERS, STORES, SINKS, BLOBS):
                for _, example, summary in registry.table():
                    # Written as is: click would re-wrap the columns of a text epilog.
                    formatter.write(f"{'':{formatter.current_indent}}{registry.kind:<7} {example:<38} {summary}\n")


@click.command(cls=_UpCommand)
@click.option("--data-dir", type=click.Path(path_type=Path), help="Where the database and keys live [default: ./data]")
@click.option("--host", help="Address both listeners bind to [default: 127.0.0.1]")
@click.option("--mqtt-port", type=int, help="MQTT port (0 picks a free one) [default: 1883]")
@click.option("--http-port", type=int, help="HTTP port (0 picks a free one) [default: 8080]")
@click.option("--probe-port", type=int, help="Also serve /healthz and /metrics without a token here (0: a free port)")
@click.option("--config", type=click.Path(path_type=Path), help="TOML config file (docs/configuration.md)")
@click.option(
    "--stream",
    multiple=True,
    metavar="URL",
    help=f"Also forward stored telemetry to this stream, repeatable: {' or '.join(SINKS.names())} (see below)",
)
@click.option(
    "--broker",
    metavar="BROKER",
    help=f"The MQTT broker: {', '.join(BROKERS.names())} (see below) [default: embedded]. An external "
    "Mosquitto's account comes from FIELDHUB_MOSQUITTO__USERNAME / FIELDHUB_MOSQUITTO__PASSWORD",
)
@click.option(
    "--store",
    metavar="URL",
    help=f"The store: {', '.join(STORES.names())} (see below) [default: sqlite:///<data-dir>/fieldhub.db]",
)
@click.option(
    "--demo",
    is_flag=True,
    default=None,
    help="Simulated devices beside yours (tenant default); relaxes security checks",
)
def up(config: Path | None, stream: tuple[str, ...], **options: Any) -> int:
    """Run the cloud hub (broker, ingest, API) in the foreground until Ctrl-C or SIGTERM.

    Settings come from defaults, the --config file, FIELDHUB_* variables and these options, each
    taking precedence over the one before.
    """
    return run_until_stopped("up", partial(_serve, config, {**options, "stream": list(stream) or None}))


async def _serve(config: Path | None, options: dict[str, Any], stop: asyncio.Event) -> int:
    from cloud.runtime import HubRuntime  # noqa: PLC0415 - hub dependencies load only for this command
    from cloud.settings import load_settings  # noqa: PLC0415

    settings = load_settings(config, **options)
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
                print(f"Demo: {len(devices)} simulated devices in tenant '{demo.TENANT}' publish once a second.")
                sys.stdout.flush()
                await stop.wait()
        else:
            await stop.wait()
        print("Shutting down: flushing accepted messages to the store...")
    return 0

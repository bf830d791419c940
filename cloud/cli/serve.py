"""``fieldhub serve --role ingest|api``: one part of the hub in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import sys
from functools import partial
from pathlib import Path
from typing import Any

import click

from cloud import collector
from cloud.cli import logs
from cloud.cli.foreground import run_until_stopped


@click.command()
@click.option("--role", type=click.Choice(["ingest", "api"]), required=True, help="What this process does")
@click.option("--broker", metavar="URL", help="The external Mosquitto, mqtt[s]://host:port")
@click.option("--store", metavar="URL", help="The hub's store [default: sqlite:///<data-dir>/fieldhub.db]")
@click.option("--replica-id", help="Names this process's broker session; unique per process, kept across restarts")
@click.option("--data-dir", type=click.Path(path_type=Path), help="The hub's data directory [default: ./data]")
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    help="TOML config file (the keys every hub process takes; see docs/configuration.md)",
)
@click.option("--host", help="Address the listeners bind to [default: 127.0.0.1]")
@click.option("--http-port", type=int, help="--role api: the HTTP port (0 picks a free one) [default: 8080]")
@click.option("--probe-port", type=int, help="Serve /healthz and /metrics here (0 picks a free port)")
def serve(role: str, config: Path | None, **options: Any) -> int:
    """Run one part of the hub alone, beside others on the same store and external broker.

    --role ingest: an ingest replica. It reads its share of the devices' messages from the broker
    and writes them to the store.

    --role api: an API process (HTTP API and portal), one of several behind a load balancer. They
    elect a leader through the store, which also runs the work done once per hub (schedules,
    placement, no-data alarms, notifications, retention); if it dies another takes over.

    Each runs until Ctrl-C or SIGTERM.
    """
    run = _serve_api if role == "api" else _serve_ingest
    return run_until_stopped("serve", partial(run, config, options))


async def _serve_ingest(config: Path | None, options: dict[str, Any], stop: asyncio.Event) -> int:
    from cloud.ingest_replica import IngestReplica  # noqa: PLC0415 - hub dependencies load only for this command
    from cloud.settings import load_replica_settings  # noqa: PLC0415

    settings = load_replica_settings(config, **options)
    logs.configure(settings.log_level)
    async with IngestReplica(settings) as replica:
        collector.settle_after_start()
        print(f"Ingest replica {settings.replica_id} is up, reading from {settings.broker}")
        if replica.probe_port is not None:
            print(f"Health and metrics: http://{settings.host}:{replica.probe_port}/healthz and /metrics")
        sys.stdout.flush()
        await stop.wait()
        print("Shutting down: flushing accepted messages to the store...")
    return 0


async def _serve_api(config: Path | None, options: dict[str, Any], stop: asyncio.Event) -> int:
    from cloud.api_process import ApiProcess  # noqa: PLC0415 - hub dependencies load only for this command
    from cloud.settings import load_settings  # noqa: PLC0415

    settings = load_settings(config, **options)
    logs.configure(settings.log_level)
    async with ApiProcess(settings) as process:
        collector.settle_after_start()
        print(f"API process {settings.replica_id} is up: {process.url}  (API docs {process.url}/docs)")
        print(f"MQTT broker: {settings.broker}")
        if process.probe_port is not None:
            print(f"Health and metrics: http://{settings.host}:{process.probe_port}/healthz and /metrics")
        sys.stdout.flush()
        await stop.wait()
        print("Shutting down: handing the lead over, flushing accepted messages to the store...")
    return 0

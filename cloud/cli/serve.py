"""``fieldhub serve --role ingest``: one ingest replica in the foreground until SIGINT/SIGTERM."""

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
@click.option("--role", type=click.Choice(["ingest"]), required=True, help="What this process does")
@click.option("--broker", metavar="URL", help="The external Mosquitto, mqtt[s]://host:port")
@click.option("--replica-id", help="Names this replica's broker session; keep it across restarts")
@click.option("--data-dir", type=click.Path(path_type=Path), help="The hub's data directory [default: ./data]")
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    help="TOML config file (the keys every hub process takes; see docs/configuration.md)",
)
@click.option("--probe-port", type=int, help="Serve /healthz and /metrics here (0 picks a free port)")
def serve(role: str, config: Path | None, **options: Any) -> int:
    """Run one part of the hub alone: --role ingest, an ingest replica beside fieldhub up.

    It reads its share of the devices' messages from the external broker and writes them to the
    hub's store, until Ctrl-C or SIGTERM.
    """
    return run_until_stopped("serve", partial(_serve, config, options))


async def _serve(config: Path | None, options: dict[str, Any], stop: asyncio.Event) -> int:
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

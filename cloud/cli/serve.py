"""``fieldhub serve --role ingest``: one ingest replica in the foreground until SIGINT/SIGTERM."""

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
    parser.add_argument("--role", choices=["ingest"], required=True, help="what this process does")
    parser.add_argument("--broker", metavar="URL", help="the external Mosquitto, mqtt[s]://host:port")
    parser.add_argument("--replica-id", help="names this replica's broker session; keep it across restarts")
    parser.add_argument("--data-dir", type=Path, help="the hub's data directory (default ./data)")
    parser.add_argument(
        "--config", type=Path, help="TOML config file (the keys every hub process takes; see docs/configuration.md)"
    )
    parser.add_argument("--probe-port", type=int, help="serve /healthz and /metrics here (0 picks a free port)")


async def _serve(args: argparse.Namespace, stop: asyncio.Event) -> int:
    from cloud.ingest_replica import IngestReplica  # noqa: PLC0415 - hub dependencies load only for this command
    from cloud.settings import load_replica_settings  # noqa: PLC0415

    settings = load_replica_settings(
        args.config,
        data_dir=args.data_dir,
        broker=args.broker,
        replica_id=args.replica_id,
        probe_port=args.probe_port,
    )
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


def run(args: argparse.Namespace) -> int:
    return run_until_stopped("serve", partial(_serve, args))

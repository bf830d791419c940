"""``fieldhub bench ingest``: ingest throughput through the embedded broker, against a raw baseline."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench", required=True)
    ingest = sub.add_parser("ingest", help="messages/s and points/s stored, with the raw broker as baseline")
    ingest.add_argument("--messages", type=int, default=20_000, help="messages per run (default 20000)")
    ingest.add_argument("--batch", type=int, default=1, help="reading objects per message (default 1)")
    ingest.add_argument("--publishers", type=int, default=2, help="publisher processes (default 2)")
    ingest.add_argument("--qos", type=int, choices=[0, 1], default=1)
    ingest.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from cloud.bench.ingest import main  # noqa: PLC0415 - heavy imports only when benchmarking

    return main(args)

"""``fieldhub bench ingest|agent``: measured figures, each against a baseline run in the same invocation."""

from __future__ import annotations

import argparse
from importlib import import_module


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench", required=True)
    ingest = sub.add_parser("ingest", help="messages/s and points/s stored, with the raw broker as baseline")
    ingest.add_argument("--messages", type=int, default=20_000, help="messages per run (default 20000)")
    ingest.add_argument("--batch", type=int, default=1, help="reading objects per message (default 1)")
    ingest.add_argument("--publishers", type=int, default=2, help="publisher processes (default 2)")
    ingest.add_argument("--qos", type=int, choices=[0, 1], default=1)
    ingest.add_argument(
        "--stream", action="append", default=[], metavar="URL", help="also write to this stream (kafka:// or nats://)"
    )
    ingest.add_argument(
        "--broker",
        choices=["embedded", "mosquitto"],
        default="embedded",
        help="the broker in front (mosquitto: managed, with mosquitto_pub load and a paho baseline)",
    )
    ingest.add_argument("--replicas", type=int, default=0, help="ingest replica processes beside the hub (mosquitto)")
    ingest.add_argument("--paced", action="store_true", help="also measure latency at half the maximum rate")
    ingest.add_argument(
        "--kafka",
        action="store_true",
        help="also measure the pipeline with a Kafka sink, on a Tansu the bench starts (mosquitto)",
    )
    ingest.add_argument(
        "--paho",
        action="store_true",
        help="also measure the pipeline with paho-mqtt, driven from the event loop, as the hub's broker link "
        "(mosquitto, without --replicas)",
    )
    ingest.add_argument("--json", action="store_true", help="print one JSON object")
    agent = sub.add_parser("agent", help="agent memory, CPU per 1,000 readings/s and spool replay rate")
    agent.add_argument("--readings", type=int, default=100_000, help="backlog to replay (default 100000)")
    agent.add_argument("--seconds", type=float, default=10.0, help="CPU measurement window (default 10)")
    agent.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    # Heavy imports only when benchmarking.
    main = import_module(f"cloud.bench.{args.bench}").main
    code: int = main(args)
    return code

"""``fieldhub telemetry``: query a device's readings, its latest values, or watch them arrive live."""

from __future__ import annotations

from contextlib import closing
from typing import Any

import click

from cloud.cli.client import SessionRefused
from cloud.cli.errors import fail
from cloud.cli.lazy import OrderedGroup
from cloud.cli.options import api_options, invocation
from cloud.cli.output import Printer, cell, col

TS_WIDTH = len("2026-11-22T10:00:00.000Z")
KEY_WIDTH = 16


@click.group(cls=OrderedGroup)
@api_options
def telemetry() -> None:
    """A device's telemetry: stored readings, latest values, the live stream."""


@telemetry.command()
@click.argument("device_id")
@click.option("--key", required=True, help="The sensor key (one series per query)")
@click.option("--start", help="From this time, inclusive: RFC 3339 with a zone, or epoch ms")
@click.option("--end", help="Until this time, exclusive: RFC 3339 with a zone, or epoch ms")
@click.option("--agg", type=click.Choice(["avg", "min", "max", "sum", "count"]), help="Aggregate into buckets")
@click.option("--interval", help="Bucket width with --agg: 500ms, 60s, 5m, 1h, 1d")
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000, help="At most this many points")
@click.option("--order", type=click.Choice(["asc", "desc"]), default="asc", help="Oldest or newest first")
@api_options
def query(device_id: str, **params: Any) -> None:
    """Readings of one key of DEVICE_ID, raw or aggregated (--agg with --interval)."""
    inv = invocation()
    answer = inv.api().get(f"/api/v1/devices/{device_id}/telemetry", **params)
    inv.printer().show(answer, answer["points"], (col("TS"), col("VALUE")))


@telemetry.command()
@click.argument("device_id")
@api_options
def latest(device_id: str) -> None:
    """The latest value of every key of DEVICE_ID."""
    inv = invocation()
    answer = inv.api().get(f"/api/v1/devices/{device_id}/latest")
    rows = [{"key": key, **point} for key, point in sorted(answer["values"].items())]
    inv.printer().show(answer, rows, (col("KEY"), col("TS"), col("VALUE")))


@telemetry.command()
@click.argument("device_id")
@click.option("--count", type=click.IntRange(1), help="Stop after this many messages [default: at Ctrl-C]")
@api_options
def watch(device_id: str, count: int | None) -> None:
    """Follow DEVICE_ID's readings live as the hub stores them, until Ctrl-C.

    A table prints a line per reading; -o json a JSON line per message (as the stream's telemetry
    events carry it), -o yaml a document per message. The stream ends when the login does.
    """
    inv = invocation()
    api, printer = inv.api(), inv.printer()
    seen = 0
    try:
        with closing(api.events(f"/api/v1/devices/{device_id}/live")) as events:
            for event in events:
                if event.name == "comment" and event.data == "connected":
                    click.echo(f"Watching {device_id} on {api.hub} (Ctrl-C to stop)", err=True)
                    if printer.table and printer.headers:
                        _reading_line(printer, "TS", "KEY", "VALUE")
                elif event.name == "telemetry":
                    _show_message(printer, event.data)
                    seen += 1
                    if seen == count:
                        return
                elif event.name == "end":
                    _ended(api.hub, api.source, str(event.data.get("reason")))
    except KeyboardInterrupt:
        return  # Ctrl-C is how a watch ends
    fail(f"the hub at {api.hub} closed the live stream")


def _show_message(printer: Printer, message: dict[str, Any]) -> None:
    if not printer.table:
        printer.record(message)
        return
    for reading in message["readings"]:
        _reading_line(printer, reading["ts"], reading["key"], cell(reading["value"]))
    printer.out.flush()


def _reading_line(printer: Printer, ts: str, key: str, value: str) -> None:
    printer.line(f"{ts:<{TS_WIDTH}}  {key:<{KEY_WIDTH}}  {value}".rstrip())


def _ended(hub: str, source: str, reason: str) -> None:
    if reason in ("token_expired", "revoked"):
        raise SessionRefused(hub, source, f"the live stream ended: {reason.replace('_', ' ')}")
    fail(f"the hub at {hub} ended the live stream ({reason}); start it again")

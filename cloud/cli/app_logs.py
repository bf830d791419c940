"""``fieldhub app logs ID``: a deployment's lines, searched, or followed live (``-f``)."""

from __future__ import annotations

import re
import time
from contextlib import closing
from typing import Any
from urllib.parse import urlencode

import click

from cloud.cli.errors import fail
from cloud.cli.options import api_options, invocation
from cloud.cli.output import Printer
from cloud.cli.telemetry import TS_WIDTH, _ended

_SINCE = re.compile(r"(\d{1,9})(s|m|h|d)")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``10m``, ``2h``, ``1d`` ago as epoch ms; anything else (RFC 3339, epoch ms) goes to the hub as it is."""
    if value is None:
        return None
    match = _SINCE.fullmatch(value.strip())
    if match is None:
        return value
    return str(int(time.time() * 1000) - int(match.group(1)) * _UNIT_MS[match.group(2)])


@click.command()
@click.argument("deployment_id", metavar="ID")
@click.option("-f", "--follow", is_flag=True, help="Follow new lines as they arrive, until Ctrl-C")
@click.option("-q", "--query", "text", metavar="TEXT", help='Text search: words, "a phrase", prefix*, OR, NOT')
@click.option("--level", type=click.Choice(LEVELS, case_sensitive=False), help="Only lines of this level and up")
@click.option("--node", metavar="NODE", help="Only the lines of this node")
@click.option("--since", callback=_since, help="From this time: 10m, 2h, 1d ago, or RFC 3339 / epoch ms")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, help="Most lines shown (without -f)")
@api_options
def logs(deployment_id: str, follow: bool, since: str | None, limit: int, **options: str | None) -> None:
    """The lines the deployment ID's instances wrote, oldest first; with -f, then every new one live.

    Each line shows its time, level, node and service, then the message. -o json prints each line as the API
    answers it, one JSON object a line.
    """
    inv = invocation()
    api, printer = inv.api(), inv.printer()
    level = options["level"]
    filters = {"q": options["text"], "level": level.upper() if level else None, "node": options["node"]}
    filters = {key: value for key, value in filters.items() if value is not None}
    path = f"/api/v1/deployments/{deployment_id}/logs"
    answer = api.get(path, **filters, start=since, limit=limit, order="desc")
    for line in reversed(answer["items"]):
        _show(printer, line)
    if not follow:
        return
    try:
        with closing(api.events(f"{path}/stream?{urlencode(filters)}" if filters else f"{path}/stream")) as events:
            for event in events:
                if event.name == "log":
                    _show(printer, event.data)
                elif event.name == "end":
                    _ended(api.hub, api.source, str(event.data.get("reason")))
    except KeyboardInterrupt:
        return  # Ctrl-C is how following ends
    fail(f"the hub at {api.hub} closed the log stream")


def _show(printer: Printer, line: dict[str, Any]) -> None:
    if not printer.table:
        printer.record(line)
        return
    where = line["node"] + (f"/{line['service']}" if line.get("service") else "")
    printer.line(f"{line['ts']:<{TS_WIDTH}}  {line['level']:<8} {where}  {line['message']}")
    printer.out.flush()

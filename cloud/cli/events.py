"""``fieldhub events`` and ``fieldhub webhook``: platform events, listed or followed, and webhooks posting them."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import closing
from typing import Any
from urllib.parse import urlencode

import click

from cloud.cli.errors import fail
from cloud.cli.lazy import OrderedGroup
from cloud.cli.options import api_options, invocation
from cloud.cli.output import Column, Printer, col
from cloud.cli.telemetry import TS_WIDTH, _ended
from contracts.telemetry import to_rfc3339

EVENTS = "/api/v1/events"
WEBHOOKS = "/api/v1/webhooks"
KIND_WIDTH = 22


def _ts(row: Mapping[str, Any]) -> str:
    return to_rfc3339(int(row["ts"]))


EVENT_COLUMNS = (
    Column("TS", _ts),
    col("KIND"),
    col("TENANT"),
    col("NODE"),
    col("DEPLOYMENT"),
    col("MESSAGE"),
)


def _deliveries(key: str) -> Any:
    return lambda row: row["deliveries"].get(key)


WEBHOOK_COLUMNS = (
    col("ID"),
    col("TENANT"),
    col("URL"),
    Column("KINDS", lambda row: ",".join(row["kinds"]) or "*"),
    Column("DELIVERED", _deliveries("delivered")),
    Column("FAILED", _deliveries("failed_attempts")),
    Column("DROPPED", _deliveries("dropped")),
    Column("LAST STATUS", _deliveries("last_status")),
    Column("LAST ERROR", _deliveries("last_error")),
)


@click.command()
@click.option("--deployment", help="Only this deployment's events")
@click.option("--node", help="Only this node's events")
@click.option("--kind", help="A kind (node.dead) or a family ending with a dot (node.)")
@click.option("--tenant", help="Only this tenant's events (platform admins)")
@click.option("--start", help="From this time, inclusive: RFC 3339 with a zone, or epoch ms")
@click.option("--end", help="Until this time, exclusive: RFC 3339 with a zone, or epoch ms")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, help="At most this many (newest)")
@click.option("-f", "--follow", is_flag=True, help="Then print new events as they happen, until Ctrl-C")
@api_options
def events(follow: bool, limit: int, **filters: Any) -> None:
    """Platform events, newest first: nodes suspect, dead or back; instances started, crashed, restarted;
    deployments rescheduled, scaled, rolled back; schedules started, ended, missed.

    With -f the newest events print oldest first, then new ones as they happen (-o json: a JSON line each).
    """
    inv = invocation()
    api = inv.api()
    query = {k: v for k, v in filters.items() if v is not None}
    answer = api.get(EVENTS, **query, limit=limit)
    printer = inv.printer()
    if not follow:
        printer.show(answer, answer["items"], EVENT_COLUMNS)
        return
    if filters["start"] or filters["end"]:
        fail("--follow shows events as they happen: leave out --start and --end")
    newest = answer["items"]
    if printer.table and printer.headers:
        _event_line(printer, {"ts": None, "kind": "KIND", "node": "NODE", "message": "MESSAGE"})
    for event in reversed(newest):
        _show(printer, event)
    # From the newest one listed: nothing stored in between is missed.
    after = {"after": newest[0]["id"]} if newest else {}
    stream = f"{EVENTS}/stream?{urlencode({**query, **after})}"
    try:
        with closing(api.events(stream)) as frames:
            for frame in frames:
                if frame.name == "comment" and frame.data == "connected":
                    click.echo(f"Following events on {api.hub} (Ctrl-C to stop)", err=True)
                elif frame.name == "event":
                    _show(printer, frame.data)
                elif frame.name == "end":
                    _ended(api.hub, api.source, str(frame.data.get("reason")))
    except KeyboardInterrupt:
        return  # Ctrl-C is how a follow ends
    fail(f"the hub at {api.hub} closed the event stream")


def _show(printer: Printer, event: Mapping[str, Any]) -> None:
    if printer.table:
        _event_line(printer, event)
        printer.out.flush()
    else:
        printer.record(event)


def _event_line(printer: Printer, event: Mapping[str, Any]) -> None:
    ts = "TS" if event["ts"] is None else to_rfc3339(int(event["ts"]))
    where = event.get("node") or event.get("deployment") or "-"
    printer.line(f"{ts:<{TS_WIDTH}}  {event['kind']:<{KIND_WIDTH}}  {where}  {event['message']}".rstrip())


@click.group(cls=OrderedGroup)
@api_options
def webhook() -> None:
    """Webhooks: a tenant's events posted to a URL, signed with a secret (docs/api.md#webhooks)."""


@webhook.command()
@click.argument("url")
@click.option("--kind", "kinds", multiple=True, help="Only this kind or family (node.); repeat for more [default: all]")
@click.option("--tenant", help="The tenant's webhook (platform admins)")
@api_options
def add(url: str, kinds: tuple[str, ...], tenant: str | None) -> None:
    """Post events to URL; prints the signing secret, shown only this once."""
    inv = invocation()
    path = f"{WEBHOOKS}?{urlencode({'tenant': tenant})}" if tenant else WEBHOOKS
    created = inv.api().post(path, {"url": url, "kinds": list(kinds)})
    printer = inv.show(created, WEBHOOK_COLUMNS)
    printer.secret("Signing secret", {"secret": created["secret"]}, "verify X-Fieldhub-Signature with it")


@webhook.command("ls")
@click.option("--tenant", help="Only this tenant's webhooks (platform admins)")
@api_options
def list_webhooks(tenant: str | None) -> None:
    """List webhooks with how their deliveries went."""
    inv = invocation()
    inv.show(inv.api().get(WEBHOOKS, tenant=tenant), WEBHOOK_COLUMNS)


@webhook.command("rm")
@click.argument("webhook_id")
@api_options
def remove(webhook_id: str) -> None:
    """Delete a webhook; events waiting for it are not sent."""
    invocation().api().delete(f"{WEBHOOKS}/{webhook_id}")
    click.echo(f"Deleted webhook {webhook_id}", err=True)

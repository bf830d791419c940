"""``fieldhub channel``: the tenants' notification channels, where alarms are told (docs/alarms.md#channels)."""

from __future__ import annotations

import click

from cloud.cli.lazy import OrderedGroup
from cloud.cli.options import api_options, hub_options, invocation
from cloud.cli.output import Column, col
from cloud.cli.profile import tenant_param

CHANNELS = "/api/v1/channels"


CHANNEL_COLUMNS = (
    col("ID"),
    col("NAME"),
    col("TENANT"),
    col("KIND"),
    Column("TARGET", lambda row: {k: v for k, v in row["target"].items() if k != "kind"}),
    col("ENABLED"),
    Column("RATE/MIN", lambda row: row["rate_per_min"]),
    Column("DELIVERED", lambda row: row["deliveries"]["delivered"]),
    Column("DROPPED", lambda row: row["deliveries"]["dropped"]),
    Column("SUPPRESSED", lambda row: row["deliveries"]["suppressed"]),
    Column("LAST ERROR", lambda row: row["deliveries"]["last_error"]),
)


@click.group(cls=OrderedGroup)
@api_options
def channel() -> None:
    """Notification channels: where the alarms of rules are told (docs/api.md#notification-channels)."""


@channel.command("ls")
@click.option("--tenant", help="Only this tenant's channels (platform admins; others see their own tenant)")
@api_options
def list_channels(tenant: str | None) -> None:
    """List channels with how sending to them went."""
    inv = invocation()
    inv.show(inv.api().get(CHANNELS, tenant=tenant), CHANNEL_COLUMNS)


@channel.command("create")
@click.argument("name")
@click.option("--webhook", "url", metavar="URL", help="POST each notification to URL, signed")
@click.option("--email", "emails", metavar="ADDRESS", multiple=True, help="Mail each notification; repeatable")
@click.option("--mqtt", "device", metavar="DEVICE", help="Publish each notification to devices/DEVICE/alarms")
@click.option("--stream", is_flag=True, help="Write each notification to the hub's streams")
@click.option("--rate", type=click.IntRange(1, 6000), help="Most notifications a minute [default: 30]")
@click.option("--tenant", help="Make it in this tenant (platform admins) [default: default, or your own]")
@api_options
def create_channel(  # click passes every option by name
    *,
    name: str,
    url: str | None,
    emails: tuple[str, ...],
    device: str | None,
    stream: bool,
    rate: int | None,
    tenant: str | None,
) -> None:
    """Make a channel called NAME, of one kind: --webhook, --email, --mqtt or --stream.

    A webhook's signing secret is printed this once.
    """
    targets = [
        {"kind": "webhook", "url": url} if url else None,
        {"kind": "email", "to": list(emails)} if emails else None,
        {"kind": "mqtt", "device": device} if device else None,
        {"kind": "stream"} if stream else None,
    ]
    chosen = [target for target in targets if target is not None]
    if len(chosen) != 1:
        raise click.UsageError("give one kind of channel: --webhook, --email, --mqtt or --stream")
    body = {"name": name, "target": chosen[0], **({"rate_per_min": rate} if rate else {})}
    inv = invocation()
    created = inv.api().request("POST", CHANNELS, json=body, params=tenant_param(tenant))
    printer = inv.show(created, CHANNEL_COLUMNS)
    if created.get("secret"):
        printer.secret("Signing secret", {"secret": created["secret"]}, "verify X-Fieldhub-Signature with it")


@channel.command("delete")
@click.argument("channel_id")
@hub_options
def delete_channel(channel_id: str) -> None:
    """Delete CHANNEL_ID; refused while a rule names it."""
    invocation().api().delete(f"{CHANNELS}/{channel_id}")
    click.echo(f"deleted channel {channel_id}", err=True)

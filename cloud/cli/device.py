"""``fieldhub device``: list, get, create, update, label, enable, disable, rotate and delete devices."""

from __future__ import annotations

from typing import Any

import click

from cloud.cli.lazy import OrderedGroup
from cloud.cli.options import api_options, hub_options, invocation, page_options
from cloud.cli.output import Printer, col
from cloud.cli.params import key_values, label_changes

COLUMNS = (
    col("ID"),
    col("NAME"),
    col("TENANT"),
    col("KIND"),
    col("STATUS"),
    col("ENABLED"),
    col("LAST SEEN"),
    col("LABELS"),
)


def _credentials(printer: Printer, device_id: str, credentials: dict[str, str]) -> None:
    printer.secret("MQTT credentials", credentials, f"fieldhub device rotate {device_id} issues new ones")


@click.group(cls=OrderedGroup)
@api_options
def device() -> None:
    """Devices and gateways of the hub: list, get, create, change, rotate credentials, delete."""


@device.command("list")
@click.option("--tenant", help="Only this tenant's devices (platform admins; others see their own tenant)")
@click.option("--label", metavar="KEY=VALUE", callback=key_values, help="Only devices with this label")
@click.option("--status", type=click.Choice(["online", "offline"]), help="Only online or offline devices")
@click.option("--kind", type=click.Choice(["device", "gateway"]), help="Only plain devices or gateways")
@click.option("--profile", help="Only the devices of this profile")
@click.option("--search", "q", metavar="TEXT", help="Only devices whose id or name holds TEXT (any case)")
@page_options("devices")
@api_options
def list_devices(label: tuple[str, str] | None, **query: Any) -> None:
    """List devices, ordered by id."""
    inv = invocation()
    inv.show(inv.api().get("/api/v1/devices", label="=".join(label) if label else None, **query), COLUMNS)


@device.command("get")
@click.argument("device_id")
@api_options
def get_device(device_id: str) -> None:
    """Show the device DEVICE_ID."""
    inv = invocation()
    inv.show(inv.api().get(f"/api/v1/devices/{device_id}"), COLUMNS)


# `show` was this command's name before `get`.
device.add_command(click.Command("show", callback=get_device.callback, params=get_device.params, hidden=True))


@device.command()
@click.argument("name")
@click.option("--id", "device_id", help="Device id, which is also its MQTT username [default: generated]")
@click.option("--kind", type=click.Choice(["device", "gateway"]), default="device", help="A gateway runs the agent")
@click.option("--tenant", help="Tenant of the device (platform admins) [default: default, or your own]")
@click.option("--label", "labels", metavar="KEY=VALUE", callback=key_values, multiple=True, help="A label; repeatable")
@api_options
def create(
    name: str, device_id: str | None, kind: str, tenant: str | None, labels: tuple[tuple[str, str], ...]
) -> None:
    """Register a device called NAME and print its MQTT credentials, shown this once."""
    inv = invocation()
    body = {"name": name, "id": device_id, "kind": kind, "tenant": tenant, "labels": dict(labels)}
    answer = inv.api().post("/api/v1/devices", {k: v for k, v in body.items() if v is not None})
    _credentials(inv.show(answer, COLUMNS), answer["id"], answer["credentials"])


@device.command()
@click.argument("device_id")
@click.option("--name", help="New display name")
@click.option(
    "--label",
    "labels",
    metavar="KEY=VALUE",
    callback=key_values,
    multiple=True,
    help="Replaces all labels with the ones given; repeatable (see also: device label)",
)
@click.option("--enable/--disable", "enabled", default=None, help="Accept or refuse the device's connections")
@api_options
def update(device_id: str, name: str | None, labels: tuple[tuple[str, str], ...], enabled: bool | None) -> None:
    """Rename, relabel, enable or disable the device DEVICE_ID (disabling ends its session)."""
    body: dict[str, Any] = {"name": name, "enabled": enabled, "labels": dict(labels) if labels else None}
    _patch(device_id, {k: v for k, v in body.items() if v is not None})


@device.command()
@click.argument("device_id")
@click.argument("changes", nargs=-1, required=True)
@api_options
def label(device_id: str, changes: tuple[str, ...]) -> None:
    """Add, change or remove labels of DEVICE_ID: KEY=VALUE sets one, KEY- removes one.

    \b
    Example (sets room, removes floor):
      fieldhub device label kitchen room=pantry floor-
    """
    sets, removes = label_changes(changes)
    labels = dict(invocation().api().get(f"/api/v1/devices/{device_id}")["labels"])
    labels.update(sets)
    for key in removes:
        labels.pop(key, None)
    _patch(device_id, {"labels": labels})


@device.command()
@click.argument("device_id")
@api_options
def enable(device_id: str) -> None:
    """Accept DEVICE_ID's connections again."""
    _patch(device_id, {"enabled": True})


@device.command()
@click.argument("device_id")
@api_options
def disable(device_id: str) -> None:
    """Refuse DEVICE_ID's connections; its current session ends at once."""
    _patch(device_id, {"enabled": False})


def _patch(device_id: str, body: dict[str, Any]) -> None:
    inv = invocation()
    inv.show(inv.api().patch(f"/api/v1/devices/{device_id}", body), COLUMNS)


@device.command()
@click.argument("device_id")
@api_options
def rotate(device_id: str) -> None:
    """Issue new MQTT credentials for DEVICE_ID; the old secret stops working at once."""
    inv = invocation()
    answer = inv.api().post(f"/api/v1/devices/{device_id}/credentials")
    printer = inv.printer()
    if printer.table:
        _credentials(printer, device_id, answer)
    else:
        printer.document(answer)


@device.command()
@click.argument("device_id")
@hub_options
def delete(device_id: str) -> None:
    """Delete DEVICE_ID with its telemetry and state; its session ends at once."""
    invocation().api().delete(f"/api/v1/devices/{device_id}")
    click.echo(f"deleted {device_id}")

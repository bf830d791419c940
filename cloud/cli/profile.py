"""``fieldhub profile``: device profiles, what a kind of device sends and the labels it starts with."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cloud.cli.lazy import OrderedGroup
from cloud.cli.options import api_options, hub_options, invocation
from cloud.cli.output import Column, col
from cloud.cli.params import file_text, json_object, key_values

PROFILES = "/api/v1/profiles"
F = TypeVar("F", bound=Callable[..., Any])

COLUMNS = (
    col("ID"),
    col("NAME"),
    col("TENANT"),
    col("STRICT"),
    Column("KEYS", lambda row: ",".join(row["keys"])),
    col("LABELS"),
    col("DESCRIPTION"),
)
KEY_COLUMNS = (col("KEY"), col("TYPE"), col("UNIT"), col("MIN"), col("MAX"), col("DESCRIPTION"))


def tenant_param(tenant: str | None) -> dict[str, str] | None:
    """The ``?tenant=`` of a request acting in ``tenant`` (platform admins), if one is given."""
    return {"tenant": tenant} if tenant else None


def file_option(what: str) -> Callable[[F], F]:
    """``-f/--file``: a JSON object, the body of the request (``-``: stdin)."""
    option: Callable[[F], F] = click.option(
        "-f",
        "--file",
        "path",
        type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
        help=f"{what} as JSON, fields as docs/api.md names them (- for stdin)",
    )
    return option


def body_of(path: Path | None, **fields: Any) -> dict[str, Any]:
    """The object in the file at ``path`` (if any) with the ``fields`` given on the command line replacing its own."""
    body = json_object(file_text(path), "'--file'") if path is not None else {}
    return {**body, **{k: v for k, v in fields.items() if v is not None}}


@click.group(cls=OrderedGroup)
@api_options
def profile() -> None:
    """Device profiles: the telemetry keys a kind of device sends (type, unit, range) and its starting labels."""


@profile.command("ls")
@click.option("--tenant", help="Only this tenant's profiles (platform admins; others see their own tenant)")
@api_options
def list_profiles(tenant: str | None) -> None:
    """List profiles, by tenant and id."""
    inv = invocation()
    inv.show(inv.api().get(PROFILES, tenant=tenant), COLUMNS)


@profile.command()
@click.argument("profile_id")
@click.option("--tenant", help="The profile of this tenant (platform admins) [default: default]")
@api_options
def show(profile_id: str, tenant: str | None) -> None:
    """Show the profile PROFILE_ID, then its keys."""
    inv = invocation()
    answer = inv.api().get(f"{PROFILES}/{profile_id}", tenant=tenant)
    printer = inv.show(answer, COLUMNS)
    if printer.table and answer["keys"]:
        printer.line("")
        printer.rows([{"key": key, **spec} for key, spec in answer["keys"].items()], KEY_COLUMNS)


@profile.command()
@click.argument("name", required=False)
@click.option("--id", "profile_id", help="Profile id, unique in the tenant [default: generated]")
@click.option("--description", help="What the devices of this profile are")
@click.option("--label", "labels", metavar="KEY=VALUE", callback=key_values, multiple=True, help="A label; repeatable")
@click.option("--strict/--lenient", default=None, help="Refuse readings that do not fit, or store and count them")
@file_option("The profile")
@click.option("--tenant", help="Make it in this tenant (platform admins) [default: default, or your own]")
@api_options
def create(  # click passes every option by name
    *,
    name: str | None,
    profile_id: str | None,
    description: str | None,
    labels: tuple[tuple[str, str], ...],
    strict: bool | None,
    path: Path | None,
    tenant: str | None,
) -> None:
    """Make a profile called NAME, from the options and/or a file (its keys: from the file).

    \b
    Example profile.json:
      {"name": "Thermometer", "keys": {"temp": {"type": "number", "unit": "°C", "min": -40, "max": 85}}}
    """
    body = body_of(path, name=name, id=profile_id, description=description, labels=dict(labels) or None, strict=strict)
    inv = invocation()
    inv.show(inv.api().request("POST", PROFILES, json=body, params=tenant_param(tenant)), COLUMNS)


@profile.command()
@click.argument("profile_id")
@click.option("--name", help="New display name")
@click.option("--description", help="New description")
@click.option(
    "--label", "labels", metavar="KEY=VALUE", callback=key_values, multiple=True, help="Replaces all labels; repeatable"
)
@click.option("--strict/--lenient", default=None, help="Refuse readings that do not fit, or store and count them")
@file_option("The fields to change")
@click.option("--tenant", help="The profile of this tenant (platform admins) [default: default]")
@api_options
def update(  # click passes every option by name
    *,
    profile_id: str,
    name: str | None,
    description: str | None,
    labels: tuple[tuple[str, str], ...],
    strict: bool | None,
    path: Path | None,
    tenant: str | None,
) -> None:
    """Change the fields given of PROFILE_ID (``keys`` and ``labels`` whole); the others stay."""
    body = body_of(path, name=name, description=description, labels=dict(labels) or None, strict=strict)
    if not body:
        raise click.UsageError("give something to change: an option or --file")
    inv = invocation()
    answer = inv.api().request("PATCH", f"{PROFILES}/{profile_id}", json=body, params=tenant_param(tenant))
    inv.show(answer, COLUMNS)


@profile.command()
@click.argument("profile_id")
@click.option("--tenant", help="The profile of this tenant (platform admins) [default: default]")
@hub_options
def delete(profile_id: str, tenant: str | None) -> None:
    """Delete PROFILE_ID; refused while a device or a rule names it."""
    invocation().api().request("DELETE", f"{PROFILES}/{profile_id}", params=tenant_param(tenant))
    click.echo(f"deleted profile {profile_id}", err=True)

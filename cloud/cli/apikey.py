"""``fieldhub apikey``: API keys for automation, each acting for the user who made it (docs/api.md#api-keys)."""

from __future__ import annotations

from typing import Any

import click

from cloud.cli.lazy import OrderedGroup
from cloud.cli.options import api_options, hub_options, invocation
from cloud.cli.output import col
from cloud.cli.params import duration

API_KEYS = "/api/v1/api-keys"
COLUMNS = (
    col("ID"),
    col("NAME"),
    col("ROLE"),
    col("TENANT"),
    col("CREATOR"),
    col("CREATED"),
    col("EXPIRES"),
    col("LAST USED"),
)


def _lifetime(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    return None if value is None else duration(ctx, param, value)


@click.group(cls=OrderedGroup)
@api_options
def apikey() -> None:
    """API keys: bearer secrets for scripts and CI, with at most your role, in your tenant.

    Use one as FIELDHUB_TOKEN, or as the header Authorization: Bearer <key>.
    """


@apikey.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["user", "admin"]), help="At most your own role [default: yours]")
@click.option("--expires-in", callback=_lifetime, help="Lifetime, e.g. 30d or 12h [default: until deleted]")
@api_options
def create(name: str, role: str | None, expires_in: float | None) -> None:
    """Make a key called NAME; the key is printed this once."""
    body: dict[str, Any] = {"name": name}
    if role is not None:
        body["role"] = role
    if expires_in is not None:
        body["expires_in_s"] = max(1, round(expires_in))
    inv = invocation()
    created = inv.api().post(API_KEYS, body)
    inv.show(created, COLUMNS).secret("API key", {"key": created["key"]}, f"fieldhub apikey rm {created['id']} ends it")


@apikey.command("ls")
@api_options
def list_keys() -> None:
    """Your keys (an admin sees the tenant's, the platform admin every key), with their last use."""
    inv = invocation()
    inv.show(inv.api().get(API_KEYS), COLUMNS)


@apikey.command("rm")
@click.argument("key_id")
@hub_options
def remove(key_id: str) -> None:
    """Revoke the key KEY_ID: it stops working at once."""
    invocation().api().delete(f"{API_KEYS}/{key_id}")
    click.echo(f"revoked API key {key_id}", err=True)

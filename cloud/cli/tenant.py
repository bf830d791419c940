"""``fieldhub tenant``: tenants, the isolated groups of devices and users."""

from __future__ import annotations

import click

from cloud.cli.lazy import OrderedGroup
from cloud.cli.options import api_options, hub_options, invocation
from cloud.cli.output import col

COLUMNS = (col("ID"), col("NAME"), col("CREATED"))


@click.group(cls=OrderedGroup)
@api_options
def tenant() -> None:
    """Tenants: isolated groups of devices and users."""


@tenant.command("list")
@api_options
def list_tenants() -> None:
    """The tenants you can see (a tenant's users see their own)."""
    inv = invocation()
    inv.show(inv.api().get("/api/v1/tenants"), COLUMNS)


@tenant.command()
@click.argument("tenant_id")
@api_options
def get(tenant_id: str) -> None:
    """Show the tenant TENANT_ID."""
    inv = invocation()
    inv.show(inv.api().get(f"/api/v1/tenants/{tenant_id}"), COLUMNS)


@tenant.command()
@click.argument("name")
@click.option("--id", "tenant_id", help="Tenant id [default: generated, t-<8 hex digits>]")
@api_options
def create(name: str, tenant_id: str | None) -> None:
    """Create a tenant called NAME (platform admins)."""
    body = {"name": name} if tenant_id is None else {"name": name, "id": tenant_id}
    inv = invocation()
    inv.show(inv.api().post("/api/v1/tenants", body), COLUMNS)


@tenant.command()
@click.argument("tenant_id")
@click.argument("name")
@api_options
def rename(tenant_id: str, name: str) -> None:
    """Call the tenant TENANT_ID NAME (platform admins); its id stays."""
    inv = invocation()
    inv.show(inv.api().patch(f"/api/v1/tenants/{tenant_id}", {"name": name}), COLUMNS)


@tenant.command()
@click.argument("tenant_id")
@hub_options
def delete(tenant_id: str) -> None:
    """Delete the tenant TENANT_ID (platform admins); refused, naming what is left, unless it is empty."""
    invocation().api().delete(f"/api/v1/tenants/{tenant_id}")
    click.echo(f"deleted tenant {tenant_id}", err=True)

"""``fieldhub tenant``: tenants, the isolated groups of devices and users."""

from __future__ import annotations

import click

from cloud.cli.lazy import OrderedGroup
from cloud.cli.options import api_options, hub_options, invocation
from cloud.cli.output import col

COLUMNS = (col("ID"), col("NAME"), col("CREATED"), col("TELEMETRY DAYS"), col("LOGS DAYS"))


def _days(option: str, value: str) -> int | None:
    """A number of days, or ``default`` (None: the hub's)."""
    if value == "default":
        return None
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a number of days nor 'default'", param_hint=option) from None


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
@click.option("--telemetry-days", metavar="DAYS|default", help="Days raw telemetry is kept, rollups longer")
@click.option("--logs-days", metavar="DAYS|default", help="Days log lines are kept")
@api_options
def retention(tenant_id: str, telemetry_days: str | None, logs_days: str | None) -> None:
    """Set how long the tenant TENANT_ID keeps raw telemetry and log lines (platform admins; 'default': the hub's
    setting); an option left out stays as it is."""
    given = {"telemetry_days": telemetry_days, "logs_days": logs_days}
    body = {name: _days(f"--{name.replace('_', '-')}", value) for name, value in given.items() if value is not None}
    if not body:
        raise click.UsageError("give --telemetry-days and/or --logs-days")
    inv = invocation()
    inv.show(inv.api().patch(f"/api/v1/tenants/{tenant_id}", body), COLUMNS)


@tenant.command()
@click.argument("tenant_id")
@hub_options
def delete(tenant_id: str) -> None:
    """Delete the tenant TENANT_ID (platform admins); refused, naming what is left, unless it is empty."""
    invocation().api().delete(f"/api/v1/tenants/{tenant_id}")
    click.echo(f"deleted tenant {tenant_id}", err=True)

"""``fieldhub token``: provisioning tokens, with which gateways enroll themselves (fieldhub agent enroll)."""

from __future__ import annotations

from typing import Any

import click

from cloud.cli.lazy import OrderedGroup
from cloud.cli.options import api_options, hub_options, invocation
from cloud.cli.output import col
from cloud.cli.params import duration, key_values

MIN_TTL_S, MAX_TTL_S = 60, 30 * 86_400
COLUMNS = (
    col("ID"),
    col("TENANT"),
    col("EXPIRES"),
    col("USES LEFT"),
    col("LABELS"),
    col("CREATED BY"),
    col("CREATED"),
)


@click.group(cls=OrderedGroup)
@api_options
def token() -> None:
    """Provisioning tokens: each lets gateways enroll into a tenant (admins)."""


@token.command()
@click.option("--tenant", help="Tenant the gateways join (platform admins) [default: default, or your own]")
@click.option("--expires-in", callback=duration, default="24h", help="Lifetime: 60s to 30d")
@click.option("--uses", type=click.IntRange(1, 10_000), default=1, help="How many gateways may enroll with it")
@click.option(
    "--label", "labels", metavar="KEY=VALUE", callback=key_values, multiple=True, help="A label every gateway gets"
)
@api_options
def create(tenant: str | None, expires_in: float, uses: int, labels: tuple[tuple[str, str], ...]) -> None:
    """Make a provisioning token; its secret is printed this once."""
    if not MIN_TTL_S <= expires_in <= MAX_TTL_S:
        raise click.BadParameter("must be from 60s to 30d", param_hint="'--expires-in'")
    body: dict[str, Any] = {"expires_in_s": int(expires_in), "uses": uses, "labels": dict(labels)}
    if tenant is not None:
        body["tenant"] = tenant
    inv = invocation()
    answer = inv.api().post("/api/v1/provisioning-tokens", body)
    inv.show(answer, COLUMNS).secret(
        "Provisioning token", {"token": answer["token"]}, "fieldhub agent enroll --token takes it"
    )


@token.command("list")
@api_options
def list_tokens() -> None:
    """The provisioning tokens of your tenant (all of them for the platform admin), never their secret."""
    inv = invocation()
    inv.show(inv.api().get("/api/v1/provisioning-tokens"), COLUMNS)


@token.command()
@click.argument("token_id")
@hub_options
def revoke(token_id: str) -> None:
    """Revoke the token TOKEN_ID: no gateway can enroll with it any more."""
    invocation().api().delete(f"/api/v1/provisioning-tokens/{token_id}")
    click.echo(f"revoked {token_id}")

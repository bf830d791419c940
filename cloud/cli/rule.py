"""``fieldhub rule``: the tenants' alarm rules, what raises an alarm and whom it tells (docs/alarms.md#rules)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from cloud.cli.lazy import OrderedGroup
from cloud.cli.options import api_options, hub_options, invocation
from cloud.cli.output import Column, col
from cloud.cli.profile import body_of, file_option, tenant_param

RULES = "/api/v1/rules"


def _condition(row: Mapping[str, Any]) -> str:
    kind = row["kind"]
    if kind == "range":
        return f"{'inside' if row['inside'] else 'outside'} [{row['low']}, {row['high']}]"
    if kind == "no_data":
        return f"silent {row['silence_s']}s"
    return f"{row['op']} {row['value']}" + ("/s" if kind == "rate" else "")


RULE_COLUMNS = (
    col("ID"),
    col("NAME"),
    col("TENANT"),
    col("ENABLED"),
    Column("APPLIES TO", lambda row: f"profile {row['profile']}" if row["profile"] else row["selector"] or "all"),
    col("KEY"),
    col("KIND"),
    Column("CONDITION", _condition),
    col("FOR S"),
    col("SEVERITY"),
    col("CHANNELS"),
)


@click.group(cls=OrderedGroup)
@api_options
def rule() -> None:
    """Alarm rules: a condition on a telemetry key, a heartbeat figure or silence, on the devices of a profile
    or a label selector, and the channels that tell of its alarms (docs/api.md#alarm-rules)."""


@rule.command("ls")
@click.option("--tenant", help="Only this tenant's rules (platform admins; others see their own tenant)")
@click.option("--profile", help="Only the rules of this profile")
@click.option("--enabled/--disabled", default=None, help="Only enabled or disabled rules")
@api_options
def list_rules(tenant: str | None, profile: str | None, enabled: bool | None) -> None:
    """List rules, by tenant and id."""
    inv = invocation()
    flag = None if enabled is None else str(enabled).lower()
    inv.show(inv.api().get(RULES, tenant=tenant, profile=profile, enabled=flag), RULE_COLUMNS)


@rule.command()
@click.argument("rule_id")
@click.option("--tenant", help="The rule of this tenant (platform admins) [default: default]")
@api_options
def show(rule_id: str, tenant: str | None) -> None:
    """Show the rule RULE_ID (-o json: every field)."""
    inv = invocation()
    inv.show(inv.api().get(f"{RULES}/{rule_id}", tenant=tenant), RULE_COLUMNS)


@rule.command("create")
@file_option("The rule")
@click.option("--tenant", help="Make it in this tenant (platform admins) [default: default, or your own]")
@api_options
def create_rule(path: Path | None, tenant: str | None) -> None:
    """Make a rule from a file.

    \b
    Example rule.json (an alarm when temp stays above 30 for a minute):
      {"name": "Too hot", "profile": "thermometer", "key": "temp", "kind": "threshold",
       "op": ">", "value": 30, "for_s": 60, "severity": "major", "channels": ["ch-0123456789ab"]}
    """
    if path is None:
        raise click.UsageError("give the rule: --file rule.json (- for stdin)")
    inv = invocation()
    answer = inv.api().request("POST", RULES, json=body_of(path), params=tenant_param(tenant))
    inv.show(answer, RULE_COLUMNS)


@rule.command("delete")
@click.argument("rule_id")
@click.option("--tenant", help="The rule of this tenant (platform admins) [default: default]")
@hub_options
def delete_rule(rule_id: str, tenant: str | None) -> None:
    """Delete RULE_ID; its alarms stay, as history."""
    invocation().api().request("DELETE", f"{RULES}/{rule_id}", params=tenant_param(tenant))
    click.echo(f"deleted rule {rule_id}", err=True)

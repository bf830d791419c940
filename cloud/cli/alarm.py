"""``fieldhub alarm``: alarms listed, shown with their history, acknowledged and cleared."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from cloud.cli.lazy import OrderedGroup
from cloud.cli.options import api_options, invocation
from cloud.cli.output import Column, col
from contracts.alarms import AlarmState, Severity
from contracts.telemetry import to_rfc3339

ALARMS = "/api/v1/alarms"


def _time(key: str) -> Any:
    return lambda row: None if row.get(key) is None else to_rfc3339(int(row[key]))


COLUMNS = (
    col("ID"),
    col("STATE"),
    col("SEVERITY"),
    col("DEVICE"),
    Column("RULE", lambda row: row["rule_name"]),
    Column("RAISED", _time("raised")),
    col("VALUE"),
    col("MESSAGE"),
)
HISTORY_COLUMNS = (Column("TS", _time("ts")), col("STATE"), col("BY"), col("VALUE"), col("NOTE"))


@click.group(cls=OrderedGroup)
@api_options
def alarm() -> None:
    """Alarms raised by the rules: list them, show one's history, acknowledge or clear them."""


@alarm.command("ls")
@click.option(
    "--state",
    "states",
    type=click.Choice([s.value for s in AlarmState]),
    multiple=True,
    help="In this state; repeatable",
)
@click.option(
    "--severity", "severities", type=click.Choice([s.value for s in Severity]), multiple=True, help="Repeatable"
)
@click.option("--device", help="Only this device's alarms")
@click.option("--rule", help="Only this rule's alarms (its id)")
@click.option("--tenant", help="Only this tenant's alarms (platform admins; others see their own tenant)")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, help="At most this many")
@click.option("--offset", type=click.IntRange(0), default=0, help="Skip this many (newest raised first)")
@api_options
def list_alarms(states: tuple[str, ...], severities: tuple[str, ...], **query: Any) -> None:
    """List alarms, newest raised first."""
    inv = invocation()
    inv.show(inv.api().get(ALARMS, state=list(states), severity=list(severities), **query), COLUMNS)


@alarm.command()
@click.argument("alarm_id")
@api_options
def show(alarm_id: str) -> None:
    """Show the alarm ALARM_ID, then its history."""
    inv = invocation()
    answer = inv.api().get(f"{ALARMS}/{alarm_id}")
    _with_history(answer)


@alarm.command()
@click.argument("alarm_id")
@click.option("--note", help="Why, or what is being done (kept in the alarm's history)")
@api_options
def ack(alarm_id: str, note: str | None) -> None:
    """Acknowledge the active alarm ALARM_ID in your name."""
    _with_history(invocation().api().post(f"{ALARMS}/{alarm_id}/ack", {"note": note}))


@alarm.command()
@click.argument("alarm_id")
@click.option("--note", help="Why (kept in the alarm's history)")
@api_options
def clear(alarm_id: str, note: str | None) -> None:
    """Clear the alarm ALARM_ID by hand, in your name."""
    _with_history(invocation().api().post(f"{ALARMS}/{alarm_id}/clear", {"note": note}))


def _with_history(answer: Mapping[str, Any]) -> None:
    printer = invocation().show(answer, COLUMNS)
    if printer.table:
        printer.line("")
        printer.rows(answer["history"], HISTORY_COLUMNS)

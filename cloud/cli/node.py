"""``fieldhub node``: edge nodes (gateways running the agent), their health, sensors and logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from cloud.cli.lazy import OrderedGroup
from cloud.cli.options import api_options, invocation, page_options
from cloud.cli.output import Column, col


def _beat(key: str, unit: str = "") -> Any:
    """A heartbeat field of a node row (``spool.depth`` walks into the spool)."""

    def value(row: Mapping[str, Any]) -> Any:
        found: Any = row.get("heartbeat")
        for part in key.split("."):
            found = found.get(part) if isinstance(found, Mapping) else None
        if isinstance(found, float):
            found = f"{found:.1f}"
        return None if found is None else f"{found}{unit}"

    return value


COLUMNS = (
    col("ID"),
    col("NAME"),
    col("TENANT"),
    col("STATUS"),
    col("HEALTH"),
    col("HEARTBEAT AT"),
    Column("AGENT", _beat("agent_version")),
    Column("CPU TEMP", _beat("cpu_temp", " C")),
    Column("LOAD", _beat("load1")),
    Column("MEM", _beat("mem_used_pct", "%")),
    Column("DISK", _beat("disk_used_pct", "%")),
    Column("SPOOL", _beat("spool.depth")),
    Column("SENSORS", lambda row: len(row["heartbeat"]["sensors"]) if row.get("heartbeat") else None),
)
SENSOR_COLUMNS = (
    col("SENSOR", "name"),
    col("DRIVER"),
    col("TYPE"),
    col("UNIT"),
    col("STATE"),
    col("INTERVAL", "interval_s"),
    col("ERROR"),
)


@click.group(cls=OrderedGroup)
@api_options
def node() -> None:
    """Edge nodes: gateways with their latest heartbeat, sensors and logs."""


@node.command("list")
@click.option("--tenant", help="Only this tenant's nodes (platform admins)")
@click.option("--status", type=click.Choice(["online", "offline"]), help="Only online or offline nodes")
@page_options("nodes")
@api_options
def list_nodes(**query: Any) -> None:
    """List gateways with their latest heartbeat."""
    inv = invocation()
    inv.show(inv.api().get("/api/v1/nodes", **query), COLUMNS)


@node.command()
@click.argument("node_id")
@api_options
def get(node_id: str) -> None:
    """One gateway's health and, below it, its sensors."""
    inv = invocation()
    answer = inv.api().get(f"/api/v1/nodes/{node_id}")
    printer = inv.show(answer, COLUMNS)
    sensors = (answer.get("heartbeat") or {}).get("sensors") or []
    if printer.table and sensors:
        printer.line("")
        printer.rows(sensors, SENSOR_COLUMNS)


@node.command()
@click.argument("node_id")
@click.option("--limit", type=click.IntRange(1, 2000), default=200, help="The newest this many lines")
@api_options
def logs(node_id: str, limit: int) -> None:
    """The newest log lines NODE_ID shipped, oldest first."""
    inv = invocation()
    answer = inv.api().get(f"/api/v1/nodes/{node_id}/logs", limit=limit)
    columns = (col("TS"), col("LEVEL"), col("LOGGER"), col("MESSAGE"))
    inv.printer().show(answer, answer["lines"], columns)

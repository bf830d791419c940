"""``fieldhub audit``: the audit trail, newest first (admins; docs/api.md#audit-trail)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

import click

from cloud.cli.options import api_options, invocation
from cloud.cli.output import Column, col
from contracts.telemetry import to_rfc3339

AUDIT = "/api/v1/audit"
_AGO = re.compile(r"^(\d{1,9})(s|m|h|d)$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _actor(row: Mapping[str, Any]) -> str:
    actor = row.get("actor")
    return "-" if not actor else f"{actor['kind']}:{actor['id']}"


AUDIT_COLUMNS = (
    Column("TS", lambda row: to_rfc3339(int(row["ts"]))),
    Column("ACTOR", _actor),
    col("ACTION"),
    col("TARGET"),
    col("TENANT"),
    col("ADDRESS"),
    col("OUTCOME"),
)


def since_param(since: str | None) -> str | None:
    """``--since``: a time as the API takes it (RFC 3339, epoch ms), or an age such as ``15m``, ``2h``, ``7d``."""
    if since is None:
        return None
    match = _AGO.fullmatch(since.strip())
    if match is None:
        return since
    return str(int((time.time() - int(match.group(1)) * _UNIT_S[match.group(2)]) * 1000))


@click.command()
@click.option("--actor", help="Only this actor's records: a username, API key id or device id")
@click.option("--action", help="An action (device.create) or a family ending with a dot (device.)")
@click.option("--target", help="Only records about this object (its id)")
@click.option("--since", help="From this time: RFC 3339 with a zone, epoch ms, or an age (15m, 2h, 7d)")
@click.option("--tenant", help="Only this tenant's records (platform admins)")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, help="At most this many (newest)")
@api_options
def audit(since: str | None, limit: int, **filters: Any) -> None:
    """The audit trail, newest first: every change made through the API and every sign-in, with who, from
    where and how it went. Tenant admins see their tenant's; platform admins every tenant's."""
    inv = invocation()
    query = {k: v for k, v in filters.items() if v is not None}
    start = since_param(since)
    if start is not None:
        query["start"] = start
    answer = inv.api().get(AUDIT, **query, limit=limit)
    inv.printer().show(answer, answer["items"], AUDIT_COLUMNS)

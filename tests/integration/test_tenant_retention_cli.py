"""``fieldhub tenant retention``: a real CLI process against one real hub process."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.helpers.process import HubProcess
from tests.integration.test_cli_manage import Cli, _table

pytestmark = pytest.mark.timeout(120)


def test_tenant_retention_is_set_kept_and_reset(hub_process: HubProcess, tmp_path: Path) -> None:
    cli = Cli(hub_process, tmp_path / "config")
    name = f"r-{uuid.uuid4().hex[:10]}"
    cli.json("tenant", "create", "Retained", "--id", name)
    row = _table(cli.ok("tenant", "retention", name, "--telemetry-days", "30", "--logs-days", "7"))[0]
    assert (row["TELEMETRY DAYS"], row["LOGS DAYS"]) == ("30", "7")
    # An option left out stays; 'default' returns to the hub's setting.
    changed = cli.json("tenant", "retention", name, "--logs-days", "default")
    assert (changed["telemetry_days"], changed["logs_days"]) == (30, None)
    assert "give --telemetry-days" in cli.error("tenant", "retention", name, code=2)
    assert "neither a number of days" in cli.error("tenant", "retention", name, "--logs-days", "week", code=2)
    assert "422" in cli.error("tenant", "retention", name, "--telemetry-days", "0")

"""``fieldhub apikey``, ``fieldhub user update --disable/--enable`` and ``fieldhub tenant rename|delete``: real CLI
processes against one real hub process."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.helpers.process import HubProcess
from tests.integration.test_cli_manage import Cli, _table

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def cli(hub_process: HubProcess, tmp_path: Path) -> Cli:
    return Cli(hub_process, tmp_path / "config")


@pytest.fixture
def name() -> str:
    return f"k-{uuid.uuid4().hex[:10]}"


def _me(cli: Cli, key: str) -> int:
    return httpx.get(f"{cli.hub.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"}).status_code


def test_apikey_create_ls_rm(cli: Cli, name: str) -> None:
    out = cli.ok("apikey", "create", name, "--expires-in", "30d")
    table, _, secret = out.partition("\n\n")
    row = _table(table)[0]
    assert row["NAME"] == name and row["ROLE"] == "admin" and row["EXPIRES"] != "-"
    assert secret.startswith("API key, shown once: store it now")
    key = secret.split()[-1]
    assert key.startswith(f"fhk_{row['ID']}_")
    assert _me(cli, key) == 200
    # A key serves the CLI as a token does.
    assert "default" in cli.ok("tenant", "list", password=False, FIELDHUB_TOKEN=key)
    listed = {r["ID"]: r for r in _table(cli.ok("apikey", "ls"))}
    assert listed[row["ID"]]["LAST USED"] != "-"
    assert key not in cli.ok("apikey", "ls", "-o", "json")
    as_json = cli.json("apikey", "create", f"{name}-2", "--role", "user")
    assert as_json["role"] == "user" and as_json["key"].startswith("fhk_") and as_json["expires"] is None
    assert cli.run("apikey", "rm", row["ID"]).returncode == 0
    assert _me(cli, key) == 401
    assert cli.error("apikey", "rm", row["ID"]) == f"fieldhub: 404 not_found: api key '{row['ID']}' not found"
    assert "no duration" in cli.error("apikey", "create", name, "--expires-in", "soon", code=2)


def test_user_disable_enable_and_tenant_rename_delete(cli: Cli, name: str) -> None:
    cli.json("tenant", "create", "Acme", "--id", name)
    user = f"u-{name}"
    cli.json("user", "create", user, "--tenant", name, stdin="first-password-123\n")
    assert cli.json("user", "update", user, "--disable")["disabled"] is True
    assert _table(cli.ok("user", "get", user))[0]["DISABLED"] == "true"
    assert cli.json("user", "update", user, "--enable")["disabled"] is False
    assert "give --password" in cli.error("user", "update", user, code=2)

    assert _table(cli.ok("tenant", "rename", name, "Acme Two"))[0]["NAME"] == "Acme Two"
    refused = cli.error("tenant", "delete", name)
    assert refused == f"fieldhub: 409 conflict: tenant '{name}' still has 1 users; delete them first"
    cli.ok("user", "delete", user)
    assert cli.run("tenant", "delete", name).returncode == 0
    assert cli.error("tenant", "get", name) == f"fieldhub: 404 not_found: tenant '{name}' not found"
    assert "403 forbidden" in cli.error("tenant", "delete", "default")

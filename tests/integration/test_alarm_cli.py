"""``fieldhub profile``, ``rule``, ``channel`` and ``alarm`` as users run them: real CLI processes against a real
hub, an alarm raised by a real MQTT device."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cloud.runtime import HubRuntime
from tests.helpers.hub import Api
from tests.helpers.process import cli_env, fieldhub
from tests.helpers.waiting import eventually
from tests.integration.test_alarms_api import hot_device, listed, publish

pytestmark = pytest.mark.timeout(90)


class Cli:
    """``fieldhub`` against one hub, signed in by the admin password, run off the event loop."""

    def __init__(self, hub: HubRuntime, tmp_path: Path) -> None:
        self.env = cli_env(XDG_CONFIG_HOME=str(tmp_path / "config"), FIELDHUB_HUB=hub.url)

    async def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(fieldhub, *args, env=self.env)

    async def ok(self, *args: str) -> str:
        done = await self.run(*args)
        assert done.returncode == 0, f"fieldhub {' '.join(args)}: {done.stderr}"
        return done.stdout

    async def json(self, *args: str) -> Any:
        return json.loads(await self.ok(*args, "-o", "json"))

    async def error(self, *args: str, code: int = 1) -> str:
        done = await self.run(*args)
        assert done.returncode == code, f"fieldhub {' '.join(args)} exited {done.returncode}: {done.stdout}"
        return done.stderr


async def test_profiles_rules_and_channels_are_made_listed_and_removed(hub: HubRuntime, tmp_path: Path) -> None:
    cli = Cli(hub, tmp_path)
    keys = tmp_path / "profile.json"
    keys.write_text(json.dumps({"name": "from the file", "keys": {"temp": {"unit": "C", "min": -40, "max": 85}}}))
    profile = await cli.json("profile", "create", "Thermometer", "--id", "thermo", "--label", "site=a", "-f", str(keys))
    assert (profile["name"], profile["labels"], profile["strict"]) == ("Thermometer", {"site": "a"}, False)
    assert profile["keys"]["temp"] == {"type": "number", "unit": "C", "min": -40, "max": 85, "description": None}
    assert (await cli.json("profile", "create", "Valve", "--strict"))["strict"] is True
    shown = await cli.ok("profile", "show", "thermo")
    assert "site=a" in shown and any(line.split()[:3] == ["temp", "number", "C"] for line in shown.splitlines())
    assert "thermo" in await cli.ok("profile", "ls")
    changed = await cli.json("profile", "update", "thermo", "--lenient", "--description", "cold room")
    assert (changed["description"], changed["keys"]) == ("cold room", profile["keys"])
    assert "give something to change" in await cli.error("profile", "update", "thermo", code=2)

    table = await cli.ok("channel", "create", "ops", "--webhook", "http://127.0.0.1:9/hook", "--rate", "5")
    assert "shown once" in table and "whsec_" in table
    [hook] = (await cli.json("channel", "ls"))["items"]
    assert (hook["name"], hook["kind"], hook["rate_per_min"], "secret" in hook) == ("ops", "webhook", 5, False)
    assert "one kind" in await cli.error("channel", "create", "x", "--stream", "--mqtt", "d1", code=2)

    spec = tmp_path / "rule.json"
    body = {"name": "Too hot", "profile": "thermo", "key": "temp", "kind": "threshold", "op": ">", "value": 30}
    spec.write_text(json.dumps({**body, "channels": [hook["id"]]}))
    rule = await cli.json("rule", "create", "-f", str(spec))
    assert (rule["profile"], rule["channels"], rule["severity"]) == ("thermo", [hook["id"]], "major")
    listing = await cli.ok("rule", "ls", "--profile", "thermo", "--enabled")
    assert rule["id"] in listing and "> 30" in listing and "profile thermo" in listing
    assert (await cli.json("rule", "ls", "--disabled"))["items"] == []
    assert (await cli.json("rule", "show", rule["id"]))["channels"] == [hook["id"]]
    assert "--file" in await cli.error("rule", "create", code=2)
    spec.write_text(json.dumps({**body, "message": "{nope}"}))
    assert "422 invalid_request" in await cli.error("rule", "create", "-f", str(spec))

    assert "409 conflict" in await cli.error("channel", "delete", hook["id"])
    assert "409 conflict" in await cli.error("profile", "delete", "thermo")
    await cli.ok("rule", "delete", rule["id"])
    await cli.ok("channel", "delete", hook["id"])
    await cli.ok("profile", "delete", "thermo")
    assert "404 not_found" in await cli.error("profile", "show", "thermo")


async def test_alarms_are_listed_acknowledged_and_cleared(
    hub: HubRuntime, api: Api, unique_id: str, tmp_path: Path
) -> None:
    cli = Cli(hub, tmp_path)
    device, _ = await hot_device(hub, api, unique_id, severity="minor")
    try:
        await publish(device, {"temp": 40.5})
        await eventually(lambda: _total(api, state="active"), what="the alarm raised")
    finally:
        await asyncio.to_thread(device.close)
    [alarm] = (await cli.json("alarm", "ls", "--state", "active", "--device", unique_id))["items"]
    table = await cli.ok("alarm", "ls", "--severity", "minor", "--severity", "major")
    assert alarm["id"] in table and "active" in table and "Too hot" in table
    assert (await cli.json("alarm", "ls", "--severity", "critical"))["items"] == []

    acked = await cli.ok("alarm", "ack", alarm["id"], "--note", "on it")
    assert "acknowledged" in acked and "on it" in acked and "admin" in acked
    assert "409 conflict" in await cli.error("alarm", "ack", alarm["id"])
    shown = await cli.json("alarm", "show", alarm["id"])
    assert [(c["state"], c["note"]) for c in shown["history"]] == [("active", None), ("acknowledged", "on it")]
    cleared = await cli.json("alarm", "clear", alarm["id"])
    assert (cleared["state"], cleared["cleared_by"]) == ("cleared", "admin")
    assert json.loads(await cli.ok("alarm", "ls", "--state", "active", "--json"))["total"] == 0
    assert "404 not_found" in await cli.error("alarm", "show", "al-0000000000000000")


async def _total(api: Api, **params: Any) -> bool:
    return bool((await listed(api, **params))["total"])

"""Updating a deployment with a real hub and agent: rolled out instance by instance, rolled back by itself.

The hub and the agent run in the test's event loop, as in test_app_host.py; the apps are real processes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from cloud.runtime import HubRuntime
from contracts.apps import MANIFEST
from tests.helpers.agent import running_agent
from tests.helpers.hub import Api
from tests.helpers.waiting import eventually
from tests.integration.agent.test_app_host import NODE, agent_config, push, settled

pytestmark = pytest.mark.timeout(120)

SERVES = """\
import os
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


HTTPServer((os.environ["FIELDHUB_HOST"], int(os.environ["PORT"])), Handler).serve_forever()
"""
EXITS = "raise SystemExit('1.2.0 cannot start')\n"


def manifest(version: str) -> str:
    return (
        f'[app]\nname = "rolling"\nversion = "{version}"\n'
        '[runtime]\ncommand = ["python", "main.py"]\n[http]\nhealth = "/healthz"\n'
    )


@pytest.fixture
async def secret(api: Api) -> str:
    return str((await api.create_device(NODE, kind="gateway"))["credentials"]["password"])


async def test_an_update_rolls_out_one_by_one_and_a_failing_one_rolls_back_by_itself(
    hub: HubRuntime, api: Api, secret: str, tmp_path: Path, pins: MockFactory
) -> None:
    await push(api, tmp_path, {MANIFEST: manifest("1.0.0"), "main.py": SERVES})
    settings = {"health_timeout_s": 5, "restart_min_s": 0.1, "crash_loop_after": 2}
    async with running_agent(agent_config(tmp_path, hub, secret, **settings)):

        async def placed() -> str | None:
            answer = await api.http.post("/api/v1/deployments", json={"app": "rolling", "replicas": 2})
            assert answer.status_code == 201, answer.text
            if answer.json()["status"] == "deploying":
                return str(answer.json()["id"])
            await api.http.delete(f"/api/v1/deployments/{answer.json()['id']}")
            return None

        deployment = await eventually(placed, what="the node's heartbeat, so that the app is placed")
        url = f"/api/v1/deployments/{deployment}"
        assert _versions(await settled(api, deployment, until=("running",))) == [("1.0.0", "running")] * 2

        # 1.1.0 works: both instances move to it, one after the other.
        await push(api, tmp_path, {MANIFEST: manifest("1.1.0"), "main.py": SERVES})
        answer = await api.http.patch(url, json={"version": "1.1.0", "grace_s": 1})
        assert answer.status_code == 200, answer.text
        assert answer.json()["rollout"]["to"] == "1.1.0"
        done = await eventually(lambda: _said(api, url, "rolled out 1.1.0"), within=60, what="1.1.0 rolled out")
        assert done["version"] == "1.1.0" and done["rollout"] is None
        steps = _after(done, "rolling out 1.1.0 (from 1.0.0)")
        first = next(t for t in steps if t["reason"] == f"updating node {NODE} replica 0 to 1.1.0 (1 of 2)")
        second = next(t for t in steps if t["reason"] == f"updating node {NODE} replica 1 to 1.1.0 (2 of 2)")
        # The second waited for the first to run through its grace period.
        assert second["ts"] - first["ts"] >= 1000
        running = [t for t in steps if first["ts"] <= t["ts"] <= second["ts"] and t["status"] == "running"]
        assert running, steps
        assert _versions(await settled(api, deployment, until=("running",))) == [("1.1.0", "running")] * 2

        # 1.2.0 exits at once: its first instance fails and everything goes back to 1.1.0 by itself.
        await push(api, tmp_path, {MANIFEST: manifest("1.2.0"), "main.py": EXITS})
        answer = await api.http.patch(url, json={"version": "1.2.0", "grace_s": 30})
        assert answer.status_code == 200, answer.text
        back = await eventually(lambda: _said(api, url, "rolled back to 1.1.0: "), within=60, what="the rollback")
        assert back["version"] == "1.1.0" and back["rollout"] is None
        reason = next(t["reason"] for t in back["timeline"] if t["reason"].startswith("rolled back"))
        assert reason.startswith(f"rolled back to 1.1.0: node {NODE}: "), reason
        assert "exited with code 1" in reason, reason
        tried = [t["reason"] for t in _after(back, "rolling out 1.2.0 (from 1.1.0)") if "to 1.2.0" in t["reason"]]
        assert tried == [f"updating node {NODE} replica 0 to 1.2.0 (1 of 2)"]  # the second was never touched

        async def rolled_back_event() -> dict[str, Any] | None:
            params = {"deployment": deployment, "kind": "deployment.rolled_back"}
            items: list[dict[str, Any]] = (await api.http.get("/api/v1/events", params=params)).json()["items"]
            return items[0] if items else None

        event = await eventually(rolled_back_event, what="the deployment.rolled_back event")
        assert event["data"]["from"] == "1.2.0" and event["data"]["to"] == "1.1.0"

        async def all_on_1_1_0() -> dict[str, Any] | None:
            found: dict[str, Any] = (await api.http.get(url)).json()
            return found if _versions(found) == [("1.1.0", "running")] * 2 and found["status"] == "running" else None

        await eventually(all_on_1_1_0, within=60, what="both instances running 1.1.0 again")


def _versions(found: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i["version"], i["status"]) for i in found["instances"]]


def _after(found: dict[str, Any], reason: str) -> list[dict[str, Any]]:
    """The timeline from its last entry saying ``reason`` on."""
    timeline: list[dict[str, Any]] = found["timeline"]
    start = max(i for i, t in enumerate(timeline) if t["reason"] == reason)
    return timeline[start:]


async def _said(api: Api, url: str, prefix: str) -> dict[str, Any] | None:
    """The deployment once an entry of its timeline starts with ``prefix``."""
    found: dict[str, Any] = (await api.http.get(url)).json()
    return found if any(t["reason"].startswith(prefix) for t in found["timeline"]) else None

"""Updating a deployment through the API of a real hub, with a fake node: refusals, the rollout, the rollback."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from cloud.runtime import HubRuntime
from contracts.apps import MANIFEST, NodeDeployments
from hub.apps.template import write_template, zip_directory
from tests.helpers.hub import Api
from tests.helpers.waiting import eventually
from tests.integration.test_deployments_api import beating, desired_set, gateway

pytestmark = pytest.mark.timeout(60)

DEPLOYMENTS = "/api/v1/deployments"
NODE = "gw-greenhouse-a"


async def push_version(api: Api, tmp_path: Path, version: str, *, location: str = "greenhouse-a") -> None:
    """Push the template app ``climate`` at ``version``, binding a temperature sensor at ``location``."""
    directory = tmp_path / f"climate-{version}"
    write_template("climate", directory)
    manifest = directory / MANIFEST
    text = manifest.read_text(encoding="utf-8").replace('version = "0.1.0"', f'version = "{version}"')
    binding = f'\n[[sensors]]\nbind = "probe"\ntype = "temperature"\nlocation = "{location}"\n'
    manifest.write_text(text + binding, encoding="utf-8")
    package = ("app.zip", zip_directory(directory), "application/zip")
    response = await api.http.post("/api/v1/apps", files={"package": package})
    assert response.status_code == 201, response.text


def report(deployment: str, version: str, status: str, reason: str = "") -> bytes:
    """The node's report of replica 0 of ``deployment`` at ``version``."""
    instance = {
        "deployment": deployment,
        "replica": 0,
        "app": "climate",
        "version": version,
        "status": status,
        "reason": reason,
        "since": int(time.time() * 1000),
        "services": {"main": {"status": status, "pid": 4242}},
    }
    return orjson.dumps({"version": 1, "ts": int(time.time() * 1000), "instances": [instance]})


async def test_an_update_is_refused_unless_it_can_roll_out(hub: HubRuntime, api: Api, tmp_path: Path) -> None:
    node = await gateway(hub, api, NODE, "temperature", "greenhouse-a")
    try:
        await push_version(api, tmp_path, "0.1.0")
        created = (await api.http.post(DEPLOYMENTS, json={"app": "climate"})).json()
        assert created["status"] == "deploying", created
        url = f"{DEPLOYMENTS}/{created['id']}"

        unknown = await api.http.patch(url, json={"version": "9.9.9"})
        assert unknown.status_code == 404, unknown.text
        assert "9.9.9" in unknown.json()["error"]["message"]
        missing = await api.http.patch(f"{DEPLOYMENTS}/dep-000000000000", json={"version": "0.1.0"})
        assert missing.status_code == 404, missing.text
        same = await api.http.patch(url, json={"version": "0.1.0"})
        assert same.status_code == 409, same.text
        assert "0.1.0 already" in same.json()["error"]["message"]
        for body in (
            {"version": "latest"},
            {"version": "0.1.0", "grace_s": 0},
            {"version": "0.1.0", "grace_s": 3601},
            {"version": "0.1.0", "replicas": 2},
            {},
        ):
            refused = await api.http.patch(url, json=body)
            assert refused.status_code == 422, (body, refused.text)

        # Not active: waiting for a node, or for its schedule.
        await push_version(api, tmp_path, "0.2.0")
        await push_version(api, tmp_path, "0.3.0", location="nowhere")
        pending = (await api.http.post(DEPLOYMENTS, json={"app": "climate", "version": "0.3.0"})).json()
        assert pending["status"] == "pending", pending
        refused = await api.http.patch(f"{DEPLOYMENTS}/{pending['id']}", json={"version": "0.2.0"})
        assert refused.status_code == 409, refused.text
        assert "is pending: only an active deployment" in refused.json()["error"]["message"]
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        scheduled = await api.http.post(
            DEPLOYMENTS, json={"app": "climate", "version": "0.1.0", "schedule": {"kind": "at", "start": start}}
        )
        refused = await api.http.patch(f"{DEPLOYMENTS}/{scheduled.json()['id']}", json={"version": "0.2.0"})
        assert refused.status_code == 409, refused.text
        assert "is scheduled" in refused.json()["error"]["message"]

        # One rollout at a time.
        started = await api.http.patch(url, json={"version": "0.2.0", "grace_s": 60})
        assert started.status_code == 200, started.text
        again = await api.http.patch(url, json={"version": "0.3.0"})
        assert again.status_code == 409, again.text
        assert "is rolling out 0.2.0 (from 0.1.0)" in again.json()["error"]["message"]
    finally:
        await asyncio.to_thread(node.close)


async def test_a_new_version_failing_on_its_node_is_rolled_back(hub: HubRuntime, api: Api, tmp_path: Path) -> None:
    node = await gateway(hub, api, NODE, "temperature", "greenhouse-a")
    try:
        async with beating(node, "temperature", "greenhouse-a"):
            await push_version(api, tmp_path, "0.1.0")
            await push_version(api, tmp_path, "0.2.0")
            created = (await api.http.post(DEPLOYMENTS, json={"app": "climate", "version": "0.1.0"})).json()
            ident, url = created["id"], f"{DEPLOYMENTS}/{created['id']}"
            await asyncio.to_thread(node.subscribe, f"devices/{NODE}/deployments")
            await asyncio.to_thread(node.publish, f"devices/{NODE}/apps", report(ident, "0.1.0", "running"))
            await eventually(lambda: _status(api, url, "running"), what="the deployment running 0.1.0")

            answer = await api.http.patch(url, json={"version": "0.2.0", "grace_s": 30})
            assert answer.status_code == 200, answer.text
            updated = answer.json()
            assert updated["version"] == "0.2.0"
            assert updated["rollout"] == {"from": "0.1.0", "to": "0.2.0", "grace_s": 30, "started": updated["updated"]}
            assert [(i["version"], i["status"]) for i in updated["instances"]] == [("0.2.0", "deploying")]
            reasons = [t["reason"] for t in updated["timeline"]]
            assert reasons[-2:] == [
                "rolling out 0.2.0 (from 0.1.0)",
                f"updating node {NODE} replica 0 to 0.2.0 (1 of 1)",
            ]
            desired = await desired_set(node, lambda s: s.instances and s.instances[0].version == "0.2.0")
            package = (await api.http.get("/api/v1/apps/climate")).json()["versions"]
            assert desired.instances[0].digest == next(v["digest"] for v in package if v["version"] == "0.2.0")

            # The old instance's last words change nothing; the new one's failure rolls back.
            await asyncio.to_thread(node.publish, f"devices/{NODE}/apps", report(ident, "0.1.0", "stopped"))
            failure = "service main exited with code 3; last output: boom"
            await asyncio.to_thread(node.publish, f"devices/{NODE}/apps", report(ident, "0.2.0", "crashloop", failure))
            back = await eventually(lambda: _rolled_back(api, url), what="the deployment rolled back")
            assert back["version"] == "0.1.0" and back["rollout"] is None
            assert back["timeline"][-1]["reason"] == f"rolled back to 0.1.0: node {NODE}: {failure}"
            assert [(i["version"], i["status"]) for i in back["instances"]] == [("0.1.0", "deploying")]
            await desired_set(node, lambda s: _versions(s) == ["0.1.0"])
            event = await eventually(lambda: _rolled_back_event(api, ident), what="the rolled_back event")
            assert event["data"] == {"from": "0.2.0", "to": "0.1.0", "reason": f"node {NODE}: {failure}"}
            assert event["node"] == NODE
    finally:
        await asyncio.to_thread(node.close)


def _versions(desired: NodeDeployments) -> list[str]:
    return [i.version for i in desired.instances]


async def _status(api: Api, url: str, wanted: str) -> dict[str, Any] | None:
    found: dict[str, Any] = (await api.http.get(url)).json()
    return found if found["status"] == wanted else None


async def _rolled_back(api: Api, url: str) -> dict[str, Any] | None:
    found: dict[str, Any] = (await api.http.get(url)).json()
    return found if found["timeline"][-1]["reason"].startswith("rolled back") else None


async def _rolled_back_event(api: Api, deployment: str) -> dict[str, Any] | None:
    answer = await api.http.get("/api/v1/events", params={"deployment": deployment, "kind": "deployment.rolled_back"})
    items: list[dict[str, Any]] = answer.json()["items"]
    return items[0] if items else None

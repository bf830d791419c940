"""Autoscaling through a real hub: a deployment's replicas follow the CPU its node reports for its instances."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from cloud.runtime import HubRuntime
from contracts.apps import MANIFEST
from hub.apps.template import write_template, zip_directory
from hub.deploy import scaling
from tests.helpers.hub import Api
from tests.helpers.mqtt import TestDevice
from tests.helpers.waiting import eventually
from tests.integration.test_deployments_api import beat, desired_set, gateway, report

pytestmark = pytest.mark.timeout(60)

DEPLOYMENTS = "/api/v1/deployments"
NODE = "gw-scale-a"


@pytest.fixture(autouse=True)
def fast_scaling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Look at the loads every 0.2 s instead of every 5 s (set before the hub starts its Scaler)."""
    monkeypatch.setattr(scaling, "TICK_S", 0.2)


async def push_scaled_app(api: Api, tmp_path: Path) -> None:
    """Push the template app ``climate`` bound to the node's sensor, scaling between 1 and 2 replicas."""
    directory = tmp_path / "climate"
    write_template("climate", directory)
    manifest = directory / MANIFEST
    extra = (
        '\n[[sensors]]\nbind = "probe"\ntype = "temperature"\nlocation = "greenhouse-a"\n'
        "\n[scale]\nmin = 1\nmax = 2\ncpu_percent = 50\ncooldown_s = 1\n"
    )
    manifest.write_text(manifest.read_text(encoding="utf-8") + extra, encoding="utf-8")
    package = ("app.zip", zip_directory(directory), "application/zip")
    response = await api.http.post("/api/v1/apps", files={"package": package})
    assert response.status_code == 201, response.text


async def loaded_beat(device: TestDevice, deployment: str, cpu: dict[int, float]) -> None:
    """A heartbeat reporting the CPU (percent of one core) of each replica of ``deployment`` on the node."""
    doc = orjson.loads(beat("temperature", "greenhouse-a"))
    doc["apps"] = [{"deployment": deployment, "replica": r, "cpu_pct": pct, "rss_mb": 40.0} for r, pct in cpu.items()]
    await asyncio.to_thread(device.publish, f"devices/{NODE}/heartbeat", orjson.dumps(doc))


async def test_replicas_follow_the_cpu_of_the_instances(hub: HubRuntime, api: Api, tmp_path: Path) -> None:
    node = await gateway(hub, api, NODE, "temperature", "greenhouse-a")
    try:
        assert (await asyncio.to_thread(node.subscribe, f"devices/{NODE}/deployments"))[0].value == 1
        await push_scaled_app(api, tmp_path)
        response = await api.http.post(DEPLOYMENTS, json={"app": "climate"})
        assert response.status_code == 201, response.text
        deployment = response.json()["id"]
        url = f"{DEPLOYMENTS}/{deployment}"

        async def replicas_are(wanted: int, status: str | None = None) -> dict[str, Any] | None:
            found: dict[str, Any] = (await api.http.get(url)).json()
            ok = found["replicas"] == wanted and len(found["instances"]) == wanted
            return found if ok and (status is None or found["status"] == status) else None

        async def scaled_event(to: int) -> dict[str, Any] | None:
            params = {"deployment": deployment, "kind": "deployment.scaled"}
            items: list[dict[str, Any]] = (await api.http.get("/api/v1/events", params=params)).json()["items"]
            return next((e for e in items if e["data"]["to"] == to), None)

        await asyncio.to_thread(node.publish, f"devices/{NODE}/apps", report(deployment, "running"))
        await eventually(lambda: replicas_are(1, "running"), what="one running instance")

        # Busy: 90% of a core against a target of 50% -> a second instance, on the only qualifying node.
        await loaded_beat(node, deployment, {0: 90.0})
        scaled = await eventually(lambda: replicas_are(2), what="two replicas")
        assert [(e["node"], e["replica"]) for e in scaled["instances"]] == [(NODE, 0), (NODE, 1)]
        assert scaled["status"] == "deploying"  # the new instance is starting
        up = await eventually(lambda: scaled_event(2), what="the deployment.scaled event to 2")
        assert up["data"] == {"from": 1, "to": 2}
        assert "average CPU 90%" in up["message"], up["message"]
        desired = await desired_set(node, lambda found: len(found.instances) == 2)
        assert sorted(i.key for i in desired.instances) == [f"{deployment}-0", f"{deployment}-1"]

        # Both run and idle (5% against half the target, 25%) -> back to one after the cool-down.
        await asyncio.to_thread(node.publish, f"devices/{NODE}/apps", report(deployment, "running", replica=1))
        await eventually(lambda: replicas_are(2, "running"), what="two running instances")
        await loaded_beat(node, deployment, {0: 5.0, 1: 5.0})
        down = await eventually(lambda: replicas_are(1, "running"), what="back to one replica")
        assert [(e["node"], e["replica"]) for e in down["instances"]] == [(NODE, 0)]
        assert (await eventually(lambda: scaled_event(1), what="the event to 1"))["data"] == {"from": 2, "to": 1}
        desired = await desired_set(node, lambda found: len(found.instances) == 1)
        assert [i.key for i in desired.instances] == [f"{deployment}-0"]
        # The status never left running while scaling down: no timeline entry for it.
        timeline = [t["status"] for t in down["timeline"]]
        assert timeline == ["deploying", "running", "deploying", "running"], timeline
    finally:
        await asyncio.to_thread(node.close)

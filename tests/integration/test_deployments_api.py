"""Deploying apps through the API of a real hub: placed next to the sensors, explained, told to the node, isolated."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cloud.runtime import HubRuntime
from contracts.apps import MANIFEST, NodeDeployments
from hub.apps.template import write_template, zip_directory
from tests.helpers.hub import Api
from tests.helpers.mqtt import TestDevice
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)

DEPLOYMENTS = "/api/v1/deployments"


def beat(sensor_type: str, location: str) -> bytes:
    """A gateway's heartbeat reporting one sensor of ``sensor_type`` at ``location``."""
    return orjson.dumps(
        {
            "ts": 1_795_000_000_000,
            "agent_version": "0.1.0",
            "uptime_s": 12.5,
            "load1": 0.2,
            "mem_used_pct": 30.0,
            "spool": {"depth": 0, "oldest_age_s": 0, "dropped": 0, "bytes_used": 0},
            "sensors": [{"name": "probe", "driver": "sim", "type": sensor_type, "location": location}],
        }
    )


async def gateway(
    hub: HubRuntime, api: Api, node_id: str, sensor_type: str, location: str, secrets: dict[str, str] | None = None
) -> TestDevice:
    """A gateway connected as the real device, whose heartbeat the hub has stored (its password into ``secrets``)."""
    secret = (await api.create_device(node_id, kind="gateway"))["credentials"]["password"]
    if secrets is not None:
        secrets[node_id] = secret
    device = await asyncio.to_thread(TestDevice(hub.mqtt_port, node_id, secret).connect)
    await asyncio.to_thread(device.publish, f"devices/{node_id}/heartbeat", beat(sensor_type, location))

    async def stored() -> bool:
        return (await api.http.get(f"/api/v1/nodes/{node_id}")).json()["heartbeat"] is not None

    await eventually(stored, what=f"the heartbeat of {node_id}")
    return device


@asynccontextmanager
async def beating(device: TestDevice, sensor_type: str, location: str, every_s: float = 2.0) -> AsyncIterator[None]:
    """Keep ``device`` heartbeating as an agent does, for tests longer than the hub's suspect threshold (7 s)."""

    async def beat_on() -> None:
        while True:
            await asyncio.sleep(every_s)
            topic = f"devices/{device.client_id}/heartbeat"
            await asyncio.to_thread(device.publish, topic, beat(sensor_type, location))

    task = asyncio.create_task(beat_on())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def push_bound_app(api: Api, tmp_path: Path, name: str, sensor_type: str, location: str) -> None:
    """Push the template app with its manifest binding one sensor of ``sensor_type`` at ``location``."""
    directory = tmp_path / name
    write_template(name, directory)
    manifest = directory / MANIFEST
    binding = f'\n[[sensors]]\nbind = "probe"\ntype = "{sensor_type}"\nlocation = "{location}"\n'
    manifest.write_text(manifest.read_text(encoding="utf-8") + binding, encoding="utf-8")
    package = ("app.zip", zip_directory(directory), "application/zip")
    response = await api.http.post("/api/v1/apps", files={"package": package})
    assert response.status_code == 201, response.text


async def desired_set(device: TestDevice, check: Any) -> NodeDeployments:
    """The first desired set the device receives on its deployments topic for which ``check`` holds."""

    def receive() -> NodeDeployments:
        while True:
            found = NodeDeployments.model_validate_json(device.next_message().payload)
            if check(found):
                return found

    return await asyncio.to_thread(receive)


async def test_an_app_lands_on_the_node_hosting_its_sensor_and_leaves_it_on_delete(
    hub: HubRuntime, api: Api, tmp_path: Path
) -> None:
    node_a = await gateway(hub, api, "gw-greenhouse-a", "temperature", "greenhouse-a")
    node_b = await gateway(hub, api, "gw-greenhouse-b", "temperature", "greenhouse-b")
    try:
        await push_bound_app(api, tmp_path, "climate", "temperature", "greenhouse-b")
        response = await api.http.post(DEPLOYMENTS, json={"app": "climate"})
        assert response.status_code == 201, response.text
        deployment = response.json()
        assert (deployment["app"], deployment["version"], deployment["status"]) == ("climate", "0.1.0", "deploying")
        [placed] = deployment["instances"]
        assert (placed["node"], placed["replica"], placed["status"]) == ("gw-greenhouse-b", 0, "deploying")
        assert deployment["link"] == "/apps/default/climate/"
        candidates = {c["node"]: c for c in deployment["placement"]["candidates"]}
        assert candidates["gw-greenhouse-b"]["accepted"] and candidates["gw-greenhouse-b"]["rank"] == 1
        assert not candidates["gw-greenhouse-a"]["accepted"]
        assert candidates["gw-greenhouse-a"]["reason"] == "no temperature sensor at greenhouse-b"
        assert (await api.http.get(f"{DEPLOYMENTS}/{deployment['id']}")).json()["placement"] == deployment["placement"]
        listed = (await api.http.get(DEPLOYMENTS)).json()["items"]
        assert [d["id"] for d in listed] == [deployment["id"]]

        # The node at B gets its desired set, retained; the node at A gets none.
        assert (await asyncio.to_thread(node_b.subscribe, "devices/gw-greenhouse-b/deployments"))[0].value == 1
        desired = await desired_set(node_b, lambda found: found.instances)
        [instance] = desired.instances
        assert (instance.deployment, instance.app, instance.version) == (deployment["id"], "climate", "0.1.0")
        pushed = (await api.http.get("/api/v1/apps/climate/versions/0.1.0")).json()
        assert instance.digest == pushed["digest"]
        assert instance.package_url == f"/api/v1/nodes/gw-greenhouse-b/packages/{pushed['digest']}"
        assert [s.name for s in instance.services] == ["main"]
        # The node is told which of its sensors serve each binding: those placement counted on.
        assert (instance.sensors, instance.actuators) == ({"probe": ["probe"]}, {})

        # A deployed version cannot be deleted.
        assert (await api.http.delete("/api/v1/apps/climate/versions/0.1.0")).status_code == 409

        assert (await api.http.delete(f"{DEPLOYMENTS}/{deployment['id']}")).status_code == 204
        emptied = await desired_set(node_b, lambda found: not found.instances)
        assert emptied.version > desired.version
        assert (await api.http.get(f"{DEPLOYMENTS}/{deployment['id']}")).status_code == 404
        assert (await api.http.delete(f"{DEPLOYMENTS}/{deployment['id']}")).status_code == 404
        assert (await api.http.delete("/api/v1/apps/climate/versions/0.1.0")).status_code == 204
    finally:
        for device in (node_a, node_b):
            await asyncio.to_thread(device.close)


async def test_a_deployment_waits_for_a_qualifying_node_then_is_placed(
    hub: HubRuntime, api: Api, tmp_path: Path
) -> None:
    node_a = await gateway(hub, api, "gw-greenhouse-a", "temperature", "greenhouse-a")
    node_c: TestDevice | None = None
    try:
        await push_bound_app(api, tmp_path, "misting", "humidity", "greenhouse-c")
        response = await api.http.post(DEPLOYMENTS, json={"app": "misting", "version": "0.1.0", "replicas": 1})
        assert response.status_code == 201, response.text
        deployment = response.json()
        assert deployment["status"] == "pending" and deployment["instances"] == []
        reason = deployment["placement"]["reason"]
        assert reason == "no node qualifies among 1: no humidity sensor at greenhouse-c (1 node)"
        assert deployment["timeline"][-1]["reason"] == reason

        node_c = await gateway(hub, api, "gw-greenhouse-c", "humidity", "greenhouse-c")

        async def placed() -> dict[str, Any] | None:
            found: dict[str, Any] = (await api.http.get(f"{DEPLOYMENTS}/{deployment['id']}")).json()
            return found if found["status"] == "deploying" else None

        found = await eventually(placed, what="the pending deployment to be placed")
        assert [(i["node"], i["status"]) for i in found["instances"]] == [("gw-greenhouse-c", "deploying")]
        assert [t["status"] for t in found["timeline"]] == ["pending", "deploying"]
        assert (await asyncio.to_thread(node_c.subscribe, "devices/gw-greenhouse-c/deployments"))[0].value == 1
        desired = await desired_set(node_c, lambda found: found.instances)
        assert [i.deployment for i in desired.instances] == [deployment["id"]]
    finally:
        for device in (node_a, node_c):
            if device is not None:
                await asyncio.to_thread(device.close)


async def test_another_tenant_neither_sees_nor_deletes_a_deployment(hub: HubRuntime, api: Api, tmp_path: Path) -> None:
    await push_bound_app(api, tmp_path, "climate", "temperature", "greenhouse-b")
    deployment = (await api.http.post(DEPLOYMENTS, json={"app": "climate"})).json()
    assert deployment["status"] == "pending" and deployment["tenant"] == "default"
    assert (await api.http.post("/api/v1/tenants", json={"id": "other", "name": "Other"})).status_code == 201
    user = {"username": "dev-other", "password": "a-long-password-1", "tenant": "other"}
    assert (await api.http.post("/api/v1/users", json=user)).status_code == 201
    other = await Api.login(hub.url, "dev-other", "a-long-password-1")
    try:
        assert (await other.http.get(DEPLOYMENTS)).json()["items"] == []
        assert (await other.http.get(f"{DEPLOYMENTS}/{deployment['id']}")).status_code == 404
        assert (await other.http.delete(f"{DEPLOYMENTS}/{deployment['id']}")).status_code == 404
        # Its own tenant has no app of that name to deploy.
        refused = await other.http.post(DEPLOYMENTS, json={"app": "climate"})
        assert refused.status_code == 404, refused.text
    finally:
        await other.close()
    assert (await api.http.get(f"{DEPLOYMENTS}/{deployment['id']}")).status_code == 200
    unknown = await api.http.post(DEPLOYMENTS, json={"app": "climate", "version": "9.9.9"})
    assert unknown.status_code == 404
    assert (await api.http.post(DEPLOYMENTS, json={"app": "climate", "replicas": 0})).status_code == 422
    assert json.loads((await api.http.get(f"{DEPLOYMENTS}/dep-000000000000")).text)["error"]["code"] == "not_found"


async def test_a_node_fetches_exactly_its_packages_with_its_own_credentials(
    hub: HubRuntime, api: Api, tmp_path: Path
) -> None:
    secrets: dict[str, str] = {}
    node_a = await gateway(hub, api, "gw-greenhouse-a", "temperature", "greenhouse-a", secrets)
    node_b = await gateway(hub, api, "gw-greenhouse-b", "temperature", "greenhouse-b", secrets)
    try:
        await push_bound_app(api, tmp_path, "climate", "temperature", "greenhouse-b")
        await push_bound_app(api, tmp_path, "misting", "humidity", "greenhouse-c")  # pushed, deployed nowhere
        assert (await api.http.post(DEPLOYMENTS, json={"app": "climate"})).status_code == 201
        assert (await asyncio.to_thread(node_b.subscribe, "devices/gw-greenhouse-b/deployments"))[0].value == 1
        [instance] = (await desired_set(node_b, lambda found: found.instances)).instances
        pushed = (await api.http.get("/api/v1/apps/climate/versions/0.1.0/package")).content
        other = (await api.http.get("/api/v1/apps/misting/versions/0.1.0")).json()["digest"]

        # No user token: the node's MQTT username and password only.
        async with httpx.AsyncClient(base_url=hub.url, timeout=10) as node:
            got = await node.get(instance.package_url, auth=("gw-greenhouse-b", secrets["gw-greenhouse-b"]))
            assert got.status_code == 200, got.text
            assert got.headers["content-type"] == "application/zip"
            assert got.content == pushed
            assert hashlib.sha256(got.content).hexdigest() == instance.digest == got.headers["X-Fieldhub-Digest"]

            wrong = await node.get(instance.package_url, auth=("gw-greenhouse-b", "not-the-password"))
            assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Basic")
            missing = await node.get(instance.package_url)
            assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Basic")
            # Node A's valid credentials do not authenticate as node B: 401, as wrong ones.
            borrowed = await node.get(instance.package_url, auth=("gw-greenhouse-a", secrets["gw-greenhouse-a"]))
            assert borrowed.status_code == 401
            # Node A asking for B's package on its own path: not in A's set, so 404.
            as_a = f"/api/v1/nodes/gw-greenhouse-a/packages/{instance.digest}"
            assert (await node.get(as_a, auth=("gw-greenhouse-a", secrets["gw-greenhouse-a"]))).status_code == 404
            # A package that exists but is not in B's desired set answers as one that does not.
            auth_b = ("gw-greenhouse-b", secrets["gw-greenhouse-b"])
            for digest in (other, "0" * 64):
                refused = await node.get(f"/api/v1/nodes/gw-greenhouse-b/packages/{digest}", auth=auth_b)
                assert refused.status_code == 404, refused.text
    finally:
        for device in (node_a, node_b):
            await asyncio.to_thread(device.close)


def report(deployment: str, status: str, reason: str = "", replica: int = 0) -> bytes:
    """A node's app report about one instance of ``deployment``."""
    instance = {
        "deployment": deployment,
        "replica": replica,
        "app": "climate",
        "version": "0.1.0",
        "status": status,
        "reason": reason,
        "since": 1_795_000_000_000,
        "services": {"main": {"status": status if status != "fetching" else "starting", "pid": 4242}},
    }
    return orjson.dumps({"version": 1, "ts": 1_795_000_000_000, "instances": [instance]})


async def test_what_nodes_report_moves_their_deployments_and_nothing_else(
    hub: HubRuntime, api: Api, tmp_path: Path
) -> None:
    node_a = await gateway(hub, api, "gw-greenhouse-a", "temperature", "greenhouse-a")
    node_b = await gateway(hub, api, "gw-greenhouse-b", "temperature", "greenhouse-b")
    try:
        await push_bound_app(api, tmp_path, "climate", "temperature", "greenhouse-b")
        deployment = (await api.http.post(DEPLOYMENTS, json={"app": "climate"})).json()
        url = f"{DEPLOYMENTS}/{deployment['id']}"

        async def status_is(wanted: str) -> dict[str, Any] | None:
            found: dict[str, Any] = (await api.http.get(url)).json()
            return found if found["status"] == wanted else None

        # Node A speaks of an instance placed on B: ignored. A malformed report is refused and counted.
        await asyncio.to_thread(node_a.publish, "devices/gw-greenhouse-a/apps", report(deployment["id"], "running"))
        await asyncio.to_thread(node_b.publish, "devices/gw-greenhouse-b/apps", b'{"instances": "many"}')
        await eventually(
            lambda: _metric(api, "fieldhub_app_reports_refused_total"), what="the malformed report counted"
        )
        await asyncio.to_thread(node_b.publish, "devices/gw-greenhouse-b/apps", report(deployment["id"], "fetching"))
        fetching = await eventually(lambda: _instance_status(api, url, "fetching"), what="the instance fetching on B")
        assert fetching["status"] == "deploying", "A's report must not have made it running"

        await asyncio.to_thread(node_b.publish, "devices/gw-greenhouse-b/apps", report(deployment["id"], "running"))
        running = await eventually(lambda: status_is("running"), what="the deployment running")
        [instance] = running["instances"]
        assert instance["services"]["main"] == {
            "status": "running",
            "pid": 4242,
            "container": None,
            "exit_code": None,
            "restarts": 0,
        }
        assert [t["status"] for t in running["timeline"]] == ["deploying", "running"]

        failure = "service main exited with code 3; last output: Traceback ..."
        await asyncio.to_thread(
            node_b.publish, "devices/gw-greenhouse-b/apps", report(deployment["id"], "failed", failure)
        )
        failed = await eventually(lambda: status_is("failed"), what="the deployment failed")
        assert failed["timeline"][-1]["reason"] == f"node gw-greenhouse-b: {failure}"
        assert failed["instances"][0]["reason"] == failure
    finally:
        for device in (node_a, node_b):
            await asyncio.to_thread(device.close)


async def _instance_status(api: Api, url: str, wanted: str) -> dict[str, Any] | None:
    found: dict[str, Any] = (await api.http.get(url)).json()
    return found if found["instances"] and found["instances"][0]["status"] == wanted else None


async def _metric(api: Api, name: str) -> float:
    text = (await api.http.get("/metrics")).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))

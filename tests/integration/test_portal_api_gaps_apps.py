"""What the portal's app pages need of the API beyond the rest of it: the template app as a download, and a
deployment's replicas changed in place."""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path

import httpx
import pytest

from cloud.runtime import HubRuntime
from contracts.apps import MANIFEST
from hub.apps.template import template_files
from tests.helpers.hub import Api
from tests.integration.test_deployments_api import DEPLOYMENTS, gateway, push_bound_app

pytestmark = pytest.mark.timeout(60)


async def test_the_template_app_downloads_as_a_package_the_hub_accepts(hub: HubRuntime, api: Api) -> None:
    # Public, as the contracts are: a developer fetches it before signing in.
    async with httpx.AsyncClient(base_url=hub.url) as anonymous:
        answer = await anonymous.get("/api/v1/app-template", params={"name": "weather-board"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["content-disposition"] == 'attachment; filename="weather-board.zip"'
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        files = {name: archive.read(name).decode() for name in archive.namelist()}
    assert files == template_files("weather-board")  # what `fieldhub app init` writes, at the zip's root
    assert MANIFEST in files

    pushed = await api.http.post(
        "/api/v1/apps", files={"package": ("weather-board.zip", answer.content, "application/zip")}
    )
    assert pushed.status_code == 201, pushed.text
    assert (pushed.json()["name"], pushed.json()["version"]) == ("weather-board", "0.1.0")


async def test_the_template_apps_name_defaults_and_is_checked(hub: HubRuntime) -> None:
    async with httpx.AsyncClient(base_url=hub.url) as anonymous:
        default = await anonymous.get("/api/v1/app-template")
        assert default.status_code == 200
        assert default.headers["content-disposition"] == 'attachment; filename="my-app.zip"'
        for bad in ("Bad_Name", "-x", "a" * 64, '"x"'):
            refused = await anonymous.get("/api/v1/app-template", params={"name": bad})
            assert refused.status_code == 422, (bad, refused.text)
            assert refused.json()["error"]["code"] == "invalid_request"


async def test_patching_replicas_scales_a_deployment_and_refuses_what_cannot_be(
    hub: HubRuntime, api: Api, tmp_path: Path, unique_id: str
) -> None:
    node = f"gw-{unique_id}"
    device = await gateway(hub, api, node, "temperature", "bay-1")
    try:
        await push_bound_app(api, tmp_path, "scaled", "temperature", "bay-1")
        created = await api.http.post(DEPLOYMENTS, json={"app": "scaled"})
        assert created.status_code == 201, created.text
        deployment = created.json()["id"]

        scaled = await api.http.patch(f"{DEPLOYMENTS}/{deployment}", json={"replicas": 2})
        assert scaled.status_code == 200, scaled.text
        assert scaled.json()["replicas"] == 2
        assert [(i["node"], i["replica"]) for i in scaled.json()["instances"]] == [(node, 0), (node, 1)]
        events = await api.http.get("/api/v1/events", params={"deployment": deployment, "kind": "deployment.scaled"})
        assert events.json()["items"][0]["data"] == {"from": 1, "to": 2}

        down = await api.http.patch(f"{DEPLOYMENTS}/{deployment}", json={"replicas": 1})
        assert down.status_code == 200, down.text
        assert [(i["node"], i["replica"]) for i in down.json()["instances"]] == [(node, 0)]
        same = await api.http.patch(f"{DEPLOYMENTS}/{deployment}", json={"replicas": 1})
        assert same.status_code == 200 and same.json()["replicas"] == 1

        for bad in ({}, {"version": "0.1.0", "replicas": 2}, {"replicas": 0}, {"replicas": 65}):
            refused = await api.http.patch(f"{DEPLOYMENTS}/{deployment}", json=bad)
            assert refused.status_code == 422, (bad, refused.text)

        # A scheduled deployment is not active: nothing to scale yet.
        later = {"kind": "at", "start": "2099-01-01T00:00:00Z"}
        waiting = await api.http.post(DEPLOYMENTS, json={"app": "scaled", "schedule": later})
        assert waiting.status_code == 201, waiting.text
        conflict = await api.http.patch(f"{DEPLOYMENTS}/{waiting.json()['id']}", json={"replicas": 3})
        assert conflict.status_code == 409, conflict.text
        assert conflict.json()["error"]["code"] == "conflict"
    finally:
        await asyncio.to_thread(device.close)

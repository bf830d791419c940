"""Log search and live tails through the API of a real hub: lines shipped over MQTT, filters, tenants, bad queries,
the hub's own warnings, retention with its archive."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from cloud.runtime import HubRuntime
from hub.blobs.files import SUFFIX, FileBlobStore
from hub.logs.archive import read_archive
from tests.helpers.hub import Api, running_hub
from tests.helpers.mqtt import TestDevice
from tests.helpers.waiting import eventually
from tests.integration.test_apps_api import push, template_zip

pytestmark = pytest.mark.timeout(60)

T0 = 1_795_000_000_000  # 2026-11-18T11:06:40Z
PASSWORD = "a-long-password-1"
_SECRETS: dict[tuple[str, str], str] = {}


def app_line(deployment: str, ts: int, message: str, level: str = "INFO", **extra: Any) -> dict[str, Any]:
    fields = {"app": "probe", "version": "0.1.0", "deployment": deployment, "instance": f"{deployment}-0"}
    return {"ts": ts, "level": level, "logger": "app", "message": message, "service": "web", "stream": "stdout"} | (
        fields | extra
    )


async def tenant_user(api: Api, hub: HubRuntime, tenant: str) -> Api:
    assert (await api.http.post("/api/v1/tenants", json={"id": tenant, "name": tenant})).status_code == 201
    user = {"username": f"dev-{tenant}", "password": PASSWORD, "tenant": tenant}
    assert (await api.http.post("/api/v1/users", json=user)).status_code == 201
    return await Api.login(hub.url, f"dev-{tenant}", PASSWORD)


async def ship(hub: HubRuntime, api: Api, node: str, lines: list[dict[str, Any]]) -> None:
    """Connect as gateway ``node`` (made on first use) and publish ``lines`` on its logs topic."""
    key = (hub.url, node)
    if key not in _SECRETS:
        _SECRETS[key] = (await api.create_device(node, kind="gateway"))["credentials"]["password"]
    secret = _SECRETS[key]
    device = await asyncio.to_thread(TestDevice(hub.mqtt_port, node, secret).connect)
    try:
        await asyncio.to_thread(device.publish, f"devices/{node}/logs", orjson.dumps(lines))
    finally:
        await asyncio.to_thread(device.close)


async def deployment_of(user: Api, tmp_path: Path) -> str:
    """A deployment of the template app in the user's tenant (pending: no node qualifies; its lines are made up)."""
    assert (await push(user, template_zip(tmp_path, "probe")))[0] == 201
    response = await user.http.post("/api/v1/deployments", json={"app": "probe"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def found(api: Api, path: str, **params: Any) -> list[str]:
    response = await api.http.get(path, params=params)
    assert response.status_code == 200, response.text
    return [line["message"] for line in response.json()["items"]]


async def test_a_deployments_lines_are_searched_by_text_level_node_and_time_within_its_tenant(
    hub: HubRuntime, api: Api, tmp_path: Path
) -> None:
    user_a = await tenant_user(api, hub, "logs-a")
    user_b = await tenant_user(api, hub, "logs-b")
    try:
        dep = await deployment_of(user_a, tmp_path)
        await ship(
            hub,
            user_a,
            "gw-a1",
            [
                app_line(dep, T0 + 1, "reading 21.5 from probe"),
                app_line(dep, T0 + 2, "WARNING probe slow to answer", "WARNING"),
                app_line(dep, T0 + 3, "Traceback: connection refused", "ERROR", stream="stderr"),
                {"ts": T0 + 4, "level": "INFO", "logger": "edge_agent.uplink", "message": "uplink connection up"},
            ],
        )
        await ship(hub, user_a, "gw-a2", [app_line(dep, T0 + 5, "reading 19.0 from probe", instance=f"{dep}-1")])
        path = f"/api/v1/deployments/{dep}/logs"

        async def all_stored() -> list[str] | None:
            messages = await found(user_a, path)
            return messages if len(messages) == 4 else None

        assert await eventually(all_stored, what="the deployment's lines stored") == [
            "reading 19.0 from probe",
            "Traceback: connection refused",
            "WARNING probe slow to answer",
            "reading 21.5 from probe",
        ]
        body = (await user_a.http.get(path, params={"limit": 1, "order": "asc"})).json()
        [first] = body["items"]
        assert first["ts"] == "2026-11-18T11:06:40.001Z"
        assert (first["tenant"], first["node"], first["level"], first["logger"]) == ("logs-a", "gw-a1", "INFO", "app")
        assert (first["app"], first["version"], first["deployment"], first["service"], first["stream"]) == (
            "probe",
            "0.1.0",
            dep,
            "web",
            "stdout",
        )
        assert await found(user_a, path, q="reading") == ["reading 19.0 from probe", "reading 21.5 from probe"]
        assert await found(user_a, path, q='"connection refused"') == ["Traceback: connection refused"]
        assert await found(user_a, path, q="21.5") == ["reading 21.5 from probe"]
        assert await found(user_a, path, q="prob*", node="gw-a1", order="asc") == [
            "reading 21.5 from probe",
            "WARNING probe slow to answer",
        ]
        assert await found(user_a, path, level="WARNING") == [
            "Traceback: connection refused",
            "WARNING probe slow to answer",
        ]
        assert await found(user_a, path, start=str(T0 + 2), end="2026-11-18T11:06:40.004Z") == [
            "Traceback: connection refused",
            "WARNING probe slow to answer",
        ]
        # The agent's own line is not the deployment's, but the node's and the tenant's.
        assert await found(user_a, "/api/v1/logs", q="uplink") == ["uplink connection up"]
        node_lines = (await user_a.http.get("/api/v1/nodes/gw-a1/logs")).json()["lines"]
        assert [line["message"] for line in node_lines][-1] == "uplink connection up"
        assert await found(user_a, "/api/v1/logs", deployment=dep, q="refused") == ["Traceback: connection refused"]
        # Another tenant sees neither the deployment nor the lines; a platform admin sees them all.
        assert (await user_b.http.get(path)).status_code == 404
        assert (await user_b.http.get(f"{path}/stream")).status_code == 404
        assert await found(user_b, "/api/v1/logs", q="probe") == []
        assert (await user_b.http.get("/api/v1/logs", params={"tenant": "logs-a"})).status_code == 404
        assert len(await found(api, "/api/v1/logs", tenant="logs-a", app="probe")) == 4
        assert len(await found(api, path)) == 4
    finally:
        await user_a.close()
        await user_b.close()


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"q": '"unterminated'}, "q: unterminated string"),
        ({"q": "probe AND"}, "q: syntax error"),
        ({"q": "message:x OR nosuch:y"}, "q: no such column"),
        ({"level": "LOUD"}, "level"),
        ({"start": "yesterday"}, "start"),
        ({"start": str(T0 + 10), "end": str(T0)}, "start must be before end"),
        ({"limit": "5000"}, "limit"),
    ],
)
async def test_bad_filters_are_422_naming_the_problem(api: Api, params: dict[str, str], problem: str) -> None:
    for path in ("/api/v1/logs", "/api/v1/logs/stream"):  # a stream refuses before it starts
        response = await api.http.get(path, params=params)
        assert response.status_code == 422, response.text
        assert problem in response.text


@asynccontextmanager
async def log_stream(api: Api, path: str, **params: Any) -> AsyncIterator[AsyncIterator[tuple[str, Any]]]:
    """The events of a log stream, once it said it is connected: ``(name, data)``."""
    async with api.http.stream("GET", path, params=params) as response:
        assert response.status_code == 200
        lines = response.aiter_lines()

        async def events() -> AsyncIterator[tuple[str, Any]]:
            name = ""
            async for line in lines:
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    yield name, orjson.loads(line.removeprefix("data: "))

        assert await anext(lines) == ": connected"
        yield events()


async def test_the_live_tail_sends_new_matching_lines_of_the_deployment(
    hub: HubRuntime, api: Api, tmp_path: Path
) -> None:
    dep = await deployment_of(api, tmp_path)
    await ship(hub, api, "gw-t", [app_line(dep, T0, "before the tail, refused")])
    await eventually(lambda: found(api, f"/api/v1/deployments/{dep}/logs"), what="the first line stored")
    async with log_stream(api, f"/api/v1/deployments/{dep}/logs/stream", q="refused", level="INFO") as events:
        await ship(
            hub,
            api,
            "gw-t",
            [
                app_line(dep, T0 + 1, "connection refused once"),
                app_line(dep, T0 + 2, "all good"),
                app_line(dep, T0 + 3, "refused but debug", "DEBUG"),
                app_line("dep-0000000000ff", T0 + 4, "another deployment refused"),
                app_line(dep, T0 - 99, "refused again, late"),
            ],
        )
        got = []
        async with asyncio.timeout(10):
            async for name, data in events:
                assert name == "log"
                got.append(data["message"])
                if len(got) == 2:
                    break
        assert got == ["connection refused once", "refused again, late"]
        assert data["deployment"] == dep and data["node"] == "gw-t" and "version" in data


async def test_the_hubs_own_warnings_are_lines_of_node_hub_for_platform_admins(
    hub: HubRuntime, api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    logging.getLogger("hub.test_logs").warning("disk nearly full on %s", "volume-7")
    logging.getLogger("hub.test_logs").info("routine, not stored")

    async def stored() -> list[dict[str, Any]] | None:
        items = (await api.http.get("/api/v1/logs", params={"node": "hub", "q": "volume"})).json()["items"]
        return items or None

    [line] = await eventually(stored, what="the hub's warning in the log store")
    assert (line["tenant"], line["level"], line["logger"]) == (None, "WARNING", "hub.test_logs")
    assert line["message"] == "disk nearly full on volume-7"
    assert await found(api, "/api/v1/logs", node="hub", q="routine") == []
    user = await tenant_user(api, hub, "logs-c")
    try:
        assert await found(user, "/api/v1/logs", q="volume") == []
    finally:
        await user.close()


async def test_retention_archives_old_and_surplus_lines_to_the_blob_store(tmp_path: Path) -> None:
    settings = {"logs": {"retention_days": 1, "max_lines": 1000, "retention_interval_s": 1, "hub_lines_per_s": 0}}
    async with running_hub(tmp_path / "hub", **settings) as hub:
        api = await Api.login(hub.url)
        try:
            now = int(time.time() * 1000)
            old = [{"ts": now - 3 * 86_400_000 + i, "level": "INFO", "message": f"old line {i}"} for i in range(10)]
            new = [{"ts": now + i, "level": "WARNING", "message": f"new line {i}"} for i in range(1100)]
            await ship(hub, api, "gw-r", old)
            for start in range(0, len(new), 300):
                await ship(hub, api, "gw-r", new[start : start + 300])

            async def retired() -> int | None:
                count = await hub.services.logs.store.count()
                lines = await found(api, "/api/v1/logs", q="line", limit=1000)
                return count if count == 1000 and len(lines) == 1000 else None

            await eventually(retired, within=20, what="old and surplus lines archived and removed")
            assert await found(api, "/api/v1/logs", q="old") == []
            assert await found(api, "/api/v1/logs", q='"new line 99"') == []  # among the first 100 stored
            blobs = FileBlobStore(hub.settings.data_dir / "blobs")
            keys = sorted(
                str(p.relative_to(blobs.root)).removesuffix(SUFFIX)
                for p in (blobs.root / "logs").rglob(f"*.jsonl.gz{SUFFIX}")
            )
            assert keys and all(key.startswith("logs/default/") for key in keys)
            archived = [record for key in keys for record in await read_archive(blobs, key)]
            messages = sorted(record["message"] for record in archived)
            assert messages == sorted([f"old line {i}" for i in range(10)] + [f"new line {i}" for i in range(100)])
            assert {record["node"] for record in archived} == {"gw-r"}
            assert {record["tenant"] for record in archived} == {"default"}
        finally:
            await api.close()

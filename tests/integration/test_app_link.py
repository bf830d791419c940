"""The app link end to end: a real hub, real tunnel clients (as the nodes run them) and small local apps."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiohttp import WSMsgType, web
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from cloud.runtime import HubRuntime
from contracts.api import CSRF_HEADER, SESSION_COOKIE
from contracts.apps import MANIFEST
from contracts.topics import apps_topic
from edge_agent.apps.tunnel import TunnelClient
from hub.apps.template import zip_directory
from tests.helpers.hub import ADMIN_PASSWORD, Api
from tests.helpers.mqtt import TestDevice
from tests.helpers.waiting import eventually
from tests.integration.test_deployments_api import DEPLOYMENTS, desired_set, gateway, push_bound_app

pytestmark = pytest.mark.timeout(90)

MIB = 1024 * 1024
NAME = web.AppKey("name", str)


async def _echo(request: web.Request) -> web.StreamResponse:
    """Echoes what the app was asked: method, path, query and headers (and which app answered)."""
    return web.json_response(
        {
            "app": request.app[NAME],
            "method": request.method,
            "path": request.path,
            "query": request.query_string,
            "headers": dict(request.headers),
        }
    )


async def _upload(request: web.Request) -> web.StreamResponse:
    """Streams the request body back as it arrives."""
    response = web.StreamResponse()
    await response.prepare(request)
    async for chunk in request.content.iter_chunked(64 * 1024):
        await response.write(chunk)
    await response.write_eof()
    return response


async def _download(request: web.Request) -> web.StreamResponse:
    size = int(request.query["size"])
    return web.Response(body=_pattern(size))


async def _ws(request: web.Request) -> web.StreamResponse:
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    async for message in socket:
        if message.type is WSMsgType.TEXT:
            await socket.send_str("echo:" + message.data)
        elif message.type is WSMsgType.BINARY:
            await socket.send_bytes(message.data[::-1])
    return socket


def _pattern(size: int) -> bytes:
    block = hashlib.sha256(b"fieldhub").digest() * 2048
    return (block * (size // len(block) + 1))[:size]


@asynccontextmanager
async def local_app(name: str) -> AsyncIterator[int]:
    """An app on 127.0.0.1 (as a node runs one), serving HTTP and a WebSocket; yields its port."""
    app = web.Application()
    app[NAME] = name
    app.router.add_route("*", "/upload", _upload)
    app.router.add_get("/download", _download)
    app.router.add_get("/ws", _ws)
    app.router.add_route("*", "/{tail:.*}", _echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


@dataclass
class Node:
    """A gateway with a tunnel client serving one instance from a local app."""

    id: str
    secret: str
    device: TestDevice


@asynccontextmanager
async def tunnel(hub: HubRuntime, node: Node, deployment: str, port: int) -> AsyncIterator[TunnelClient]:
    """A real tunnel client of ``node``, resolving ``deployment``'s default service to ``port``."""

    def resolve(dep: str, _replica: int, service: str) -> int | None:
        return port if dep == deployment and service == "main" else None

    client = TunnelClient(hub.url, node.id, node.secret, None, resolve)
    task = asyncio.create_task(client.run())
    try:
        await asyncio.wait_for(client.connected.wait(), 10)
        await eventually(lambda: _async(hub.services.tunnels.get(node.id) is not None), what=f"the tunnel of {node.id}")
        yield client
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _async(value: bool) -> bool:
    return value


async def node(hub: HubRuntime, api: Api, node_id: str) -> Node:
    secrets: dict[str, str] = {}
    device = await gateway(hub, api, node_id, "temperature", "greenhouse-b", secrets)
    await asyncio.to_thread(device.subscribe, f"devices/{node_id}/deployments")
    return Node(node_id, secrets[node_id], device)


async def deploy(api: Api, tmp_path: Path, app: str, *, replicas: int = 1, public: bool = False) -> str:
    await push_bound_app(api, tmp_path, app, "temperature", "greenhouse-b")
    if public:
        # Pushed again as a public version: the newest deployment decides.
        manifest = tmp_path / app / MANIFEST
        text = manifest.read_text(encoding="utf-8").replace("public = false", "public = true")
        manifest.write_text(text.replace('version = "0.1.0"', 'version = "0.2.0"'), encoding="utf-8")
        package = ("app.zip", zip_directory(tmp_path / app), "application/zip")
        assert (await api.http.post("/api/v1/apps", files={"package": package})).status_code == 201
    response = await api.http.post(DEPLOYMENTS, json={"app": app, "replicas": replicas})
    assert response.status_code == 201, response.text
    deployment: str = response.json()["id"]
    return deployment


async def run_instance(api: Api, node: Node, deployment: str) -> None:
    """Report ``deployment``'s instance on ``node`` as running, as the agent would; wait until the hub knows."""
    desired = await desired_set(node.device, lambda found: any(i.deployment == deployment for i in found.instances))
    now = int(time.time() * 1000)
    instances = [
        {"deployment": i.deployment, "replica": i.replica, "app": i.app, "version": i.version, "status": "running"}
        | {"since": now}
        for i in desired.instances
        if i.deployment == deployment
    ]
    report = json.dumps({"version": desired.version, "ts": now, "instances": instances}).encode()
    await asyncio.to_thread(node.device.publish, apps_topic(node.id), report)

    async def running() -> bool:
        found = (await api.http.get(f"{DEPLOYMENTS}/{deployment}")).json()
        return any(i["node"] == node.id and i["status"] == "running" for i in found["instances"])

    await eventually(running, what=f"{deployment} running on {node.id}")


async def tenant_user(hub: HubRuntime, api: Api, tenant: str, username: str) -> Api:
    if tenant != "default":
        assert (await api.http.post("/api/v1/tenants", json={"id": tenant, "name": tenant})).status_code == 201
    user = {"username": username, "password": "a-long-password-1", "tenant": tenant}
    assert (await api.http.post("/api/v1/users", json=user)).status_code == 201, tenant
    return await Api.login(hub.url, username, "a-long-password-1")


async def link_ok(client: httpx.AsyncClient, url: str) -> httpx.Response:
    """The link's first 200 (the hub takes up to a second to see a new running instance)."""

    async def answered() -> httpx.Response | None:
        response = await client.get(url)
        return response if response.status_code == 200 else None

    return await eventually(answered, what=f"{url} to answer 200")


async def test_the_link_reaches_the_app_for_its_tenant_only(hub: HubRuntime, api: Api, tmp_path: Path) -> None:
    gw = await node(hub, api, "gw-link-a")
    mine = await tenant_user(hub, api, "default", "dev-default")
    other = await tenant_user(hub, api, "other", "dev-other")
    try:
        deployment = await deploy(api, tmp_path, "climate")
        async with local_app("a") as port, tunnel(hub, gw, deployment, port):
            # Deployed but not running yet: 503, with the reason.
            refused = await mine.http.get("/apps/default/climate/")
            assert refused.status_code == 503, refused.text
            assert "app 'climate' has no running instance" in refused.json()["error"]["message"]
            await run_instance(api, gw, deployment)

            response = await link_ok(mine.http, "/apps/default/climate/some/path?x=1&y=two")
            echoed = response.json()
            assert (echoed["method"], echoed["path"], echoed["query"]) == ("GET", "/some/path", "x=1&y=two")
            headers = {k.lower(): v for k, v in echoed["headers"].items()}
            assert headers["x-forwarded-prefix"] == "/apps/default/climate"
            assert headers["x-forwarded-for"] == "127.0.0.1"
            assert headers["x-forwarded-proto"] == "http"
            assert headers["x-forwarded-host"] == httpx.URL(hub.url).netloc.decode()
            assert "authorization" not in headers

            # A platform admin may use it too; the bare app path redirects to the trailing slash.
            assert (await api.http.get("/apps/default/climate/")).status_code == 200
            redirect = await mine.http.get("/apps/default/climate?q=1")
            assert (redirect.status_code, redirect.headers["location"]) == (307, "/apps/default/climate/?q=1")

            # No token: 401. Another tenant's token, an unknown app or tenant: the same 404.
            async with httpx.AsyncClient(base_url=hub.url) as anonymous:
                missing = await anonymous.get("/apps/default/climate/")
                assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthorized"
                bad = await anonymous.get("/apps/default/climate/", headers={"Authorization": "Bearer nonsense"})
                assert bad.status_code == 401
                assert (await anonymous.get("/apps/default/nothing/")).status_code == 401
            foreign = await other.http.get("/apps/default/climate/")
            unknown = await mine.http.get("/apps/default/nothing/")
            elsewhere = await mine.http.get("/apps/nowhere/climate/")
            assert foreign.status_code == unknown.status_code == elsewhere.status_code == 404
            assert foreign.json()["error"]["code"] == "not_found"
            assert (await other.http.get("/apps/other/climate/")).status_code == 404
            assert hub.services.metrics.registry.get_sample_value("fieldhub_app_tunnels_open") == 1

        # The tunnel is gone: 503 again.
        await eventually(lambda: _async(hub.services.tunnels.get(gw.id) is None), what="the tunnel to close")
        gone = await mine.http.get("/apps/default/climate/")
        assert gone.status_code == 503
        assert "not connected" in gone.json()["error"]["message"]
    finally:
        await mine.close()
        await other.close()
        await asyncio.to_thread(gw.device.close)


async def test_a_public_app_needs_no_token(hub: HubRuntime, api: Api, tmp_path: Path) -> None:
    gw = await node(hub, api, "gw-link-p")
    try:
        deployment = await deploy(api, tmp_path, "board", public=True)
        async with local_app("p") as port, tunnel(hub, gw, deployment, port):
            await run_instance(api, gw, deployment)
            async with httpx.AsyncClient(base_url=hub.url) as anonymous:
                response = await link_ok(anonymous, "/apps/default/board/")
                assert response.json()["path"] == "/"
                # The app's own credentials pass through; the hub's token does not.
                own = await anonymous.get("/apps/default/board/", headers={"Authorization": "Basic dTpw"})
                assert own.json()["headers"]["Authorization"] == "Basic dTpw"
            hubs = await api.http.get("/apps/default/board/")
            assert "Authorization" not in hubs.json()["headers"]
    finally:
        await asyncio.to_thread(gw.device.close)


async def test_requests_are_balanced_over_the_running_instances(hub: HubRuntime, api: Api, tmp_path: Path) -> None:
    gw_a, gw_b = await node(hub, api, "gw-link-1"), await node(hub, api, "gw-link-2")
    try:
        deployment = await deploy(api, tmp_path, "climate", replicas=2)
        async with (
            local_app("one") as port_a,
            local_app("two") as port_b,
            tunnel(hub, gw_a, deployment, port_a),
            tunnel(hub, gw_b, deployment, port_b),
        ):
            await run_instance(api, gw_a, deployment)
            await run_instance(api, gw_b, deployment)

            async def both() -> bool:
                seen = [(await api.http.get("/apps/default/climate/")).json()["app"] for _ in range(4)]
                return sorted(seen) == ["one", "one", "two", "two"]

            await eventually(both, what="answers from both instances")
    finally:
        for gw in (gw_a, gw_b):
            await asyncio.to_thread(gw.device.close)


async def test_large_bodies_stream_both_ways_and_websockets_echo(hub: HubRuntime, api: Api, tmp_path: Path) -> None:
    gw = await node(hub, api, "gw-link-big")
    try:
        deployment = await deploy(api, tmp_path, "climate")
        async with local_app("a") as port, tunnel(hub, gw, deployment, port):
            await run_instance(api, gw, deployment)
            await link_ok(api.http, "/apps/default/climate/")
            body = os.urandom(6 * MIB)

            async def chunks() -> AsyncIterator[bytes]:
                for start in range(0, len(body), 100_000):
                    yield body[start : start + 100_000]

            uploaded = await api.http.post("/apps/default/climate/upload", content=chunks())
            assert uploaded.status_code == 200
            assert hashlib.sha256(uploaded.content).digest() == hashlib.sha256(body).digest()
            sized = await api.http.post("/apps/default/climate/upload", content=body)
            assert sized.content == body
            downloaded = await api.http.get("/apps/default/climate/download", params={"size": 8 * MIB})
            assert downloaded.content == _pattern(8 * MIB)

            url = hub.url.replace("http://", "ws://") + "/apps/default/climate/ws"
            token = api.http.headers["Authorization"]
            async with connect(url, additional_headers={"Authorization": token}, max_size=None) as socket:
                await socket.send("hello")
                assert await socket.recv() == "echo:hello"
                await socket.send(b"\x01\x02\x03")
                assert await socket.recv() == b"\x03\x02\x01"
                large = os.urandom(2 * MIB)
                await socket.send(large)
                assert await socket.recv() == large[::-1]
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url):
                    pass
            assert refused.value.response.status_code == 401
    finally:
        await asyncio.to_thread(gw.device.close)


async def test_a_tunnel_needs_the_nodes_own_credentials(hub: HubRuntime, api: Api) -> None:
    gw = await node(hub, api, "gw-link-cred")
    sensor_secret = (await api.create_device("plain-sensor"))["credentials"]["password"]
    try:
        url = hub.url.replace("http://", "ws://") + f"/api/v1/nodes/{gw.id}/tunnel"
        for username, password, path, status in (
            (gw.id, "wrong-secret", gw.id, 401),
            (gw.id, gw.secret, "gw-someone-else", 401),
            ("plain-sensor", sensor_secret, "plain-sensor", 403),
        ):
            client = TunnelClient(hub.url, username, password, None, lambda *_: None)
            target = client.url if path == username else url.replace(gw.id, path)
            with pytest.raises(InvalidStatus) as refused:
                async with connect(target, additional_headers={"Authorization": client._auth}):
                    pass
            assert refused.value.response.status_code == status, (username, path)
        with pytest.raises(InvalidStatus):
            async with connect(url):
                pass
        assert hub.services.tunnels.get(gw.id) is None
    finally:
        await asyncio.to_thread(gw.device.close)


async def test_the_portals_session_cookie_opens_the_link_and_stays_with_the_hub(
    hub: HubRuntime, api: Api, tmp_path: Path
) -> None:
    gw = await node(hub, api, "gw-link-c")
    try:
        deployment = await deploy(api, tmp_path, "panel")
        async with local_app("c") as port, tunnel(hub, gw, deployment, port):
            await run_instance(api, gw, deployment)
            async with httpx.AsyncClient(base_url=hub.url) as browser:
                signed_in = await browser.post(
                    "/api/v1/auth/session", json={"username": "admin", "password": ADMIN_PASSWORD}
                )
                assert signed_in.status_code == 200, signed_in.text
                # The browser sends the cookie with its own cookies for the app: only the app's reach it.
                browser.cookies.set("theme", "dark")
                response = await link_ok(browser, "/apps/default/panel/")
                headers = {k.lower(): v for k, v in response.json()["headers"].items()}
                assert headers["cookie"] == "theme=dark"
                assert SESSION_COOKIE not in response.text

                # Signed out, the same cookie jar opens nothing.
                csrf = signed_in.json()["csrf_token"]
                assert (await browser.delete("/api/v1/auth/session", headers={CSRF_HEADER: csrf})).status_code == 204
                assert SESSION_COOKIE not in browser.cookies
            async with httpx.AsyncClient(base_url=hub.url, cookies={SESSION_COOKIE: "forged"}) as forged:
                assert (await forged.get("/apps/default/panel/")).status_code == 401
    finally:
        await asyncio.to_thread(gw.device.close)

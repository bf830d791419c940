"""Platform events through a real hub: listed with filters, isolated by tenant, streamed live, and recorded when
nodes report their instances."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cloud.runtime import HubRuntime
from tests.helpers.hub import Api
from tests.helpers.waiting import eventually
from tests.integration.test_deployments_api import DEPLOYMENTS, gateway, push_bound_app, report

pytestmark = pytest.mark.timeout(60)

EVENTS = "/api/v1/events"


async def listed(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = await api.http.get(EVENTS, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def other_tenant_user(hub: HubRuntime, api: Api) -> Api:
    assert (await api.http.post("/api/v1/tenants", json={"id": "other", "name": "Other"})).status_code == 201
    user = {"username": "ops-other", "password": "a-long-password-1", "tenant": "other"}
    assert (await api.http.post("/api/v1/users", json=user)).status_code == 201
    return await Api.login(hub.url, "ops-other", "a-long-password-1")


async def test_events_are_listed_newest_first_with_filters_and_per_tenant(hub: HubRuntime, api: Api) -> None:
    other = await other_tenant_user(hub, api)
    try:
        events = hub.services.events
        events.record("node.suspect", "default", message="gw1 is late", node="gw1", data={"silent_s": 12})
        events.record("node.dead", "default", message="gw1 is dead", node="gw1")
        events.record("instance.started", "default", message="up", node="gw2", deployment="dep-0123456789ab")
        events.record("node.dead", "other", message="gw9 is dead", node="gw9")

        everything = await eventually(lambda: _at_least(api, 4), what="four events stored")
        assert [e["message"] for e in everything] == ["gw9 is dead", "up", "gw1 is dead", "gw1 is late"]
        first = everything[-1]
        assert (first["kind"], first["tenant"], first["node"], first["deployment"]) == (
            "node.suspect",
            "default",
            "gw1",
            None,
        )
        assert first["data"] == {"silent_s": 12} and isinstance(first["id"], int) and first["ts"] > 0

        assert [e["message"] for e in await listed(api, kind="node.", tenant="default")] == [
            "gw1 is dead",
            "gw1 is late",
        ]
        assert [e["message"] for e in await listed(api, kind="node.dead")] == ["gw9 is dead", "gw1 is dead"]
        assert [e["message"] for e in await listed(api, deployment="dep-0123456789ab")] == ["up"]
        assert [e["message"] for e in await listed(api, node="gw1", limit=1)] == ["gw1 is dead"]
        assert await listed(api, start=str(first["ts"] + 60_000)) == []
        assert len(await listed(api, start="2000-01-01T00:00:00Z", end=str(everything[0]["ts"] + 1))) == 4
        assert (await api.http.get(EVENTS, params={"start": "yesterday"})).status_code == 422
        assert (await api.http.get(EVENTS, params={"kind": "Node!"})).status_code == 422

        # A tenant's user sees its own tenant only, and naming another is as if it did not exist.
        assert [e["message"] for e in await listed(other)] == ["gw9 is dead"]
        assert (await other.http.get(EVENTS, params={"tenant": "default"})).status_code == 404
    finally:
        await other.close()


async def _at_least(api: Api, count: int) -> list[dict[str, Any]] | None:
    found = await listed(api)
    return found if len(found) >= count else None


async def frames(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The ``event`` frames of an SSE answer, as their id and data (comments mark the stream as open)."""
    frame: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if line.startswith(": connected"):
            yield {"connected": True}
        elif line.startswith("id: "):
            frame["id"] = int(line[4:])
        elif line.startswith("event: "):
            frame["event"] = line[7:]
        elif line.startswith("data: "):
            frame["data"] = orjson.loads(line[6:])
        elif not line and frame:
            yield frame
            frame = {}


async def test_the_stream_gets_the_events_recorded_after_it_opened(hub: HubRuntime, api: Api) -> None:
    events = hub.services.events
    events.record("node.dead", "default", message="before the stream", node="gw1")
    await eventually(lambda: _at_least(api, 1), what="the first event stored")
    other = await other_tenant_user(hub, api)
    try:
        async with (
            api.http.stream("GET", f"{EVENTS}/stream", params={"kind": "node."}) as mine,
            other.http.stream("GET", f"{EVENTS}/stream") as theirs,
        ):
            assert mine.status_code == 200 and mine.headers["content-type"].startswith("text/event-stream")
            received, elsewhere = frames(mine), frames(theirs)
            assert await anext(received) == {"connected": True}
            assert await anext(elsewhere) == {"connected": True}
            events.record("instance.started", "default", message="not a node event", deployment="dep-0123456789ab")
            events.record("node.back", "default", message="gw1 is back", node="gw1")
            events.record("node.back", "other", message="gw9 is back", node="gw9")
            frame = await asyncio.wait_for(anext(received), 10)
            assert frame["event"] == "event" and frame["data"]["message"] == "gw1 is back"
            assert frame["id"] == frame["data"]["id"]
            # The other tenant's stream has its own event only.
            assert (await asyncio.wait_for(anext(elsewhere), 10))["data"]["message"] == "gw9 is back"

        # Reconnecting with Last-Event-ID replays what came since.
        first = (await listed(api, kind="node.dead"))[0]["id"]
        async with api.http.stream(
            "GET", f"{EVENTS}/stream", params={"kind": "node."}, headers={"Last-Event-ID": str(first)}
        ) as resumed:
            replay = frames(resumed)
            assert await anext(replay) == {"connected": True}
            assert (await asyncio.wait_for(anext(replay), 10))["data"]["message"] == "gw1 is back"
    finally:
        await other.close()


async def test_instance_reports_record_instance_and_deployment_events(
    hub: HubRuntime, api: Api, tmp_path: Path
) -> None:
    node = await gateway(hub, api, "gw-greenhouse-b", "temperature", "greenhouse-b")
    try:
        await push_bound_app(api, tmp_path, "climate", "temperature", "greenhouse-b")
        deployment = (await api.http.post(DEPLOYMENTS, json={"app": "climate"})).json()
        topic = "devices/gw-greenhouse-b/apps"
        for status, reason in [
            ("running", ""),
            ("restarting", "service main exited with code 1"),
            ("running", ""),
            ("crashloop", "service main exited 5 times in 60 s"),
        ]:
            count = len(await listed(api, deployment=deployment["id"], kind="instance."))
            await asyncio.to_thread(node.publish, topic, report(deployment["id"], status, reason))
            await eventually(
                lambda c=count: _more(api, deployment["id"], c), what=f"the event of the instance {status}"
            )

        instance = await listed(api, deployment=deployment["id"], kind="instance.")
        assert [e["kind"] for e in instance] == [
            "instance.crashloop",
            "instance.restarted",
            "instance.crashed",
            "instance.started",
        ]
        crashed = instance[2]
        assert (crashed["node"], crashed["tenant"]) == ("gw-greenhouse-b", "default")
        assert crashed["message"] == "climate 0.1.0 on gw-greenhouse-b: service main exited with code 1"
        assert crashed["data"]["services"]["main"]["status"] == "restarting"
        degraded = await eventually(lambda: _both(api, deployment["id"]), what="the deployment degraded, then failed")
        # degraded when it restarted, failed when its only instance went into a crash loop
        assert [e["kind"] for e in degraded] == ["deployment.failed", "deployment.degraded"]
        assert degraded[1]["data"] == {"from": "running", "to": "degraded"}
    finally:
        await asyncio.to_thread(node.close)


async def _more(api: Api, deployment: str, count: int) -> bool:
    return len(await listed(api, deployment=deployment, kind="instance.")) > count


async def _both(api: Api, deployment: str) -> list[dict[str, Any]] | None:
    found = await listed(api, deployment=deployment, kind="deployment.")
    return found if len(found) >= 2 else None

"""Webhooks of a real hub posting to real local HTTP servers: signed, retried, their failures visible."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from cloud.runtime import HubRuntime
from hub.events.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.helpers.hub import Api, running_hub
from tests.helpers.ports import free_port
from tests.helpers.receiver import receiver
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)

WEBHOOKS = "/api/v1/webhooks"
#: Fast retries, so that a test sees several attempts in well under a second.
FAST = {"webhook_attempts": 3, "webhook_backoff_s": 0.05, "webhook_backoff_cap_s": 0.2, "webhook_timeout_s": 2}


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[HubRuntime]:
    async with running_hub(tmp_path / "data", events=FAST) as runtime:
        yield runtime


async def subscribe(api: Api, url: str, kinds: list[str] | None = None) -> dict[str, Any]:
    response = await api.http.post(WEBHOOKS, json={"url": url, "kinds": kinds or []})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def deliveries(api: Api, webhook_id: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        for item in (await api.http.get(WEBHOOKS)).json()["items"]:
            if item["id"] == webhook_id and check(item["deliveries"]):
                return dict(item["deliveries"])
        return None

    return await eventually(found, what=f"the deliveries of {webhook_id}")


async def test_a_delivery_is_signed_with_the_secret_told_once(hub: HubRuntime, api: Api) -> None:
    async with receiver([204]) as (endpoint, url):
        created = await subscribe(api, url, ["node."])
        secret = created["secret"]
        assert secret.startswith("whsec_") and created["kinds"] == ["node."] and created["tenant"] == "default"
        [listed] = (await api.http.get(WEBHOOKS)).json()["items"]
        assert "secret" not in listed and listed["id"] == created["id"]

        hub.services.events.record("instance.started", "default", message="not subscribed")
        hub.services.events.record("node.dead", "default", message="gw1 is dead", node="gw1", data={"silent_s": 40})
        headers, body = await asyncio.wait_for(endpoint.delivered.get(), 10)
        event = orjson.loads(body)
        assert (event["kind"], event["message"], event["node"], event["data"]) == (
            "node.dead",
            "gw1 is dead",
            "gw1",
            {"silent_s": 40},
        )
        assert headers["X-Fieldhub-Event"] == "node.dead" and headers["X-Fieldhub-Event-Id"] == str(event["id"])
        assert headers[SIGNATURE_HEADER].startswith("sha256=")
        assert verify(secret, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER], now=time.time())
        assert not verify("whsec_wrong", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER], now=time.time())
        assert not verify(secret, headers[TIMESTAMP_HEADER], body + b" ", headers[SIGNATURE_HEADER], now=time.time())
        stale = time.time() + 3600
        assert not verify(secret, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER], now=stale)
        counted = await deliveries(api, created["id"], lambda d: d["delivered"] == 1)
        assert (counted["failed_attempts"], counted["last_status"], counted["last_error"]) == (0, 204, None)
        assert len(endpoint.requests) == 1  # the instance event was not for this webhook

        assert (await api.http.delete(f"{WEBHOOKS}/{created['id']}")).status_code == 204
        assert (await api.http.delete(f"{WEBHOOKS}/{created['id']}")).status_code == 404
        assert (await api.http.get(WEBHOOKS)).json()["items"] == []


async def test_a_failing_endpoint_is_retried_until_it_takes_the_event(hub: HubRuntime, api: Api) -> None:
    async with receiver([500, 503, 200]) as (endpoint, url):
        created = await subscribe(api, url)
        hub.services.events.record("deployment.rolled_back", "default", message="0.2.0 failed its health check")
        _, body = await asyncio.wait_for(endpoint.delivered.get(), 10)
        assert orjson.loads(body)["kind"] == "deployment.rolled_back"
        assert len(endpoint.requests) == 3
        # Every attempt carried the same event, each signed at its own time.
        assert {r[1] for r in endpoint.requests} == {body}
        counted = await deliveries(api, created["id"], lambda d: d["delivered"] == 1)
        assert (counted["failed_attempts"], counted["dropped"], counted["last_status"]) == (2, 0, 200)


async def test_a_dead_endpoint_shows_its_failures_and_never_slows_recording(hub: HubRuntime, api: Api) -> None:
    async with receiver([204]) as (alive, url):
        dead = await subscribe(api, f"http://127.0.0.1:{free_port()}/hook")
        healthy = await subscribe(api, url)
        events = hub.services.events
        started = time.perf_counter()
        for i in range(200):
            events.record("node.suspect", "default", message=f"late {i}", node="gw1")
        assert time.perf_counter() - started < 0.5  # a queue put each, whatever the endpoints do

        # The live endpoint gets every event while the dead one is retried.
        for _ in range(200):
            await asyncio.wait_for(alive.delivered.get(), 20)
        failing = await deliveries(api, dead["id"], lambda d: d["dropped"] >= 1)
        assert failing["delivered"] == 0 and failing["failed_attempts"] >= 3
        assert failing["last_status"] is None and "Connect" in failing["last_error"]
        assert (await deliveries(api, healthy["id"], lambda d: d["delivered"] == 200))["failed_attempts"] == 0


async def test_webhooks_belong_to_their_tenant(hub: HubRuntime, api: Api) -> None:
    assert (await api.http.post("/api/v1/tenants", json={"id": "other", "name": "Other"})).status_code == 201
    user = {"username": "ops-other", "password": "a-long-password-1", "tenant": "other"}
    assert (await api.http.post("/api/v1/users", json=user)).status_code == 201
    other = await Api.login(hub.url, "ops-other", "a-long-password-1")
    try:
        async with receiver([204]) as (endpoint, url):
            theirs = await subscribe(other, url)
            assert theirs["tenant"] == "other"
            mine = await subscribe(api, f"http://127.0.0.1:{free_port()}/unused", ["schedule.missed"])
            assert [w["id"] for w in (await other.http.get(WEBHOOKS)).json()["items"]] == [theirs["id"]]
            assert (await other.http.delete(f"{WEBHOOKS}/{mine['id']}")).status_code == 404
            # Only the other tenant's events go to its webhook.
            hub.services.events.record("node.dead", "default", message="mine")
            hub.services.events.record("node.dead", "other", message="theirs")
            _, body = await asyncio.wait_for(endpoint.delivered.get(), 10)
            assert orjson.loads(body)["message"] == "theirs"
            assert len(endpoint.requests) == 1
    finally:
        await other.close()
    refused = await api.http.post(WEBHOOKS, json={"url": "ftp://example.test/x"})
    assert refused.status_code == 422
    unknown = await api.http.post(WEBHOOKS, json={"url": "http://example.test/x", "kinds": ["node.exploded"]})
    assert unknown.status_code == 422 and "node.exploded" in unknown.text

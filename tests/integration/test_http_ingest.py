"""HTTP ingest: device credentials, the MQTT payload contract and refusals, tenancy, stored before the answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cloud.runtime import HubRuntime
from tests.helpers.hub import Api, running_hub

pytestmark = pytest.mark.timeout(60)
PATH = "/api/v1/ingest/telemetry"
JSON = {"Content-Type": "application/json"}
CHALLENGE = 'Basic realm="fieldhub-ingest"'


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
async def anonymous(hub: HubRuntime) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no credentials of its own: each request carries the device's."""
    async with httpx.AsyncClient(base_url=hub.url, timeout=20) as client:
        yield client


async def device(api: Api, device_id: str, **body: Any) -> tuple[str, str]:
    created = await api.create_device(device_id, **body)
    return device_id, created["credentials"]["password"]


async def post(client: httpx.AsyncClient, auth: tuple[str, str] | None, body: Any, **kwargs: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return await client.post(PATH, content=content, auth=auth, headers=kwargs.pop("headers", JSON), **kwargs)


async def points(api: Api, device_id: str, key: str) -> list[Any]:
    r = await api.http.get(f"/api/v1/devices/{device_id}/telemetry", params={"key": key})
    assert r.status_code == 200, r.text
    return [p["value"] for p in r.json()["points"]]


def sample(hub: HubRuntime, name: str, labels: dict[str, str]) -> float:
    return hub.services.metrics.registry.get_sample_value(name, labels) or 0.0


async def test_readings_posted_with_basic_or_the_token_header_are_stored_before_the_answer(
    hub: HubRuntime, api: Api, anonymous: httpx.AsyncClient, unique_id: str
) -> None:
    device_id, secret = await device(api, unique_id)
    t0 = now_ms() - 10_000
    basic = await post(anonymous, (device_id, secret), {"ts": t0, "values": {"temp": 21.5, "mode": "eco"}})
    assert basic.status_code == 202, basic.text
    assert basic.json() == {"stored": True, "device_id": device_id}
    # 202 comes once the message is stored: readable at once, no waiting.
    assert await points(api, device_id, "temp") == [21.5]
    token = {"X-Device-Token": f"{device_id}:{secret}", **JSON}
    header = await post(anonymous, None, [{"ts": t0 + 1, "values": {"temp": 22.5}}], headers=token)
    assert header.status_code == 202, header.text
    assert await points(api, device_id, "temp") == [21.5, 22.5]
    latest = (await api.http.get(f"/api/v1/devices/{device_id}/latest")).json()["values"]
    assert latest["temp"]["value"] == 22.5 and latest["mode"]["value"] == "eco"
    assert sample(hub, "fieldhub_http_ingest_requests_total", {"outcome": "stored"}) == 2


async def test_a_list_redelivered_with_seq_is_stored_once(
    api: Api, anonymous: httpx.AsyncClient, unique_id: str
) -> None:
    auth = await device(api, unique_id)
    batch = [{"ts": now_ms() - 1000 + i, "values": {"v": i}, "seq": i} for i in range(10)]
    for _ in range(3):
        assert (await post(anonymous, auth, batch)).status_code == 202
    assert await points(api, unique_id, "v") == [float(i) for i in range(10)]


async def test_readings_reach_a_live_subscriber_as_mqtt_ones_do(
    hub: HubRuntime, api: Api, anonymous: httpx.AsyncClient, unique_id: str
) -> None:
    auth = await device(api, unique_id)
    async with hub.services.live.subscribe(unique_id) as queue:
        assert (await post(anonymous, auth, {"values": {"live": 1}, "seq": 1})).status_code == 202
        message = await asyncio.wait_for(queue.get(), 10)
    assert message.device_id == unique_id
    assert [(r.key, r.value, r.seq) for r in message.readings] == [("live", 1, 1)]


async def test_refused_credentials_get_401_and_store_nothing(
    hub: HubRuntime, api: Api, anonymous: httpx.AsyncClient, unique_id: str
) -> None:
    device_id, secret = await device(api, unique_id)
    disabled_id, disabled_secret = await device(api, f"{unique_id}-off")
    assert (await api.http.patch(f"/api/v1/devices/{disabled_id}", json={"enabled": False})).status_code == 200
    bearer = {"Authorization": api.http.headers["Authorization"], **JSON}
    attempts = [
        ((device_id, "wrong-secret"), JSON, "bad_password"),
        (("no-such-device", secret), JSON, "unknown_device"),
        ((disabled_id, disabled_secret), JSON, "disabled"),
        (None, JSON, "no_credentials"),
        (None, bearer, "no_credentials"),  # a user is not a device, even the platform admin
        (None, {"X-Device-Token": secret, **JSON}, "no_credentials"),
        (None, {"Authorization": "Basic !!not-base64", **JSON}, "no_credentials"),
    ]
    before = hub.services.metrics.refusals()
    bodies = []
    for auth, headers, _ in attempts:
        r = await post(anonymous, auth, {"values": {"x": 1}}, headers=headers)
        assert r.status_code == 401, (auth, headers, r.text)
        assert r.headers["WWW-Authenticate"] == CHALLENGE
        assert r.json()["error"]["code"] == "unauthorized"
        bodies.append(r.json())
    # One answer for every reason: it never tells whether the device exists.
    assert all(body == bodies[0] for body in bodies)
    after = hub.services.metrics.refusals()
    expected: dict[str, int] = {}
    for _, _, reason in attempts:
        expected[reason] = expected.get(reason, 0) + 1
    assert {reason: after[reason] - before[reason] for reason in expected} == expected
    for stored in (device_id, disabled_id):
        assert (await api.http.get(f"/api/v1/devices/{stored}/latest")).json()["values"] == {}
    assert sample(hub, "fieldhub_http_ingest_requests_total", {"outcome": "unauthorized"}) == len(attempts)


BAD = [
    (b"not json", "malformed_json"),
    (b'{"values": {}}', "schema"),
    (b'{"values": {"t": 1}, "extra": 1}', "schema"),
    (b'{"values": {"t": 1}, "ts": 1732270000}', "ts_out_of_range"),
    (b'{"values": {"t": 1}, "ts": 99999999999999}', "ts_in_future"),
    (orjson.dumps([{"values": {"a": 1}}] * 1001), "too_many_values"),
]


async def test_refused_payloads_get_422_with_the_reason_counted_as_on_mqtt(
    hub: HubRuntime, api: Api, anonymous: httpx.AsyncClient, unique_id: str
) -> None:
    auth = await device(api, unique_id)
    secret_value = b"do-not-echo-me"
    before = hub.services.metrics.rejections()
    for payload, reason in BAD:
        r = await post(anonymous, auth, payload.replace(b'"t"', b'"' + secret_value + b'"'))
        assert r.status_code == 422, (payload[:60], r.text)
        error = r.json()["error"]
        assert error["code"] == "invalid_request"
        assert error["message"].startswith(f"{reason}: "), error
        assert secret_value.decode() not in r.text
    after = hub.services.metrics.rejections()
    expected: dict[str, int] = {}
    for _, reason in BAD:
        expected[reason] = expected.get(reason, 0) + 1
    assert {reason: after[reason] - before[reason] for reason in expected} == expected
    metrics = (await api.http.get("/metrics")).text
    assert 'fieldhub_ingest_rejected_total{reason="ts_in_future"}' in metrics
    assert f'fieldhub_http_ingest_requests_total{{outcome="refused"}} {float(len(BAD))}' in metrics
    assert (await api.http.get(f"/api/v1/devices/{unique_id}/latest")).json()["values"] == {}


async def test_a_body_that_is_not_json_by_its_content_type_gets_415(
    hub: HubRuntime, api: Api, anonymous: httpx.AsyncClient, unique_id: str
) -> None:
    auth = await device(api, unique_id)
    body = b'{"values": {"t": 1}}'
    for headers in ({"Content-Type": "text/plain"}, {}):
        r = await anonymous.post(PATH, content=body, auth=auth, headers=headers)
        assert r.status_code == 415, r.text
        assert r.json()["error"]["message"] == "Content-Type must be application/json"
    charset = await post(anonymous, auth, body, headers={"Content-Type": "application/json; charset=utf-8"})
    assert charset.status_code == 202, charset.text
    assert sample(hub, "fieldhub_http_ingest_requests_total", {"outcome": "unsupported_media_type"}) == 2


async def test_a_body_over_the_payload_limit_gets_413_unread(
    hub: HubRuntime, api: Api, anonymous: httpx.AsyncClient, unique_id: str
) -> None:
    auth = await device(api, unique_id)
    limit = hub.settings.ingest.max_payload_bytes
    fits = b'{"values": {"big": "' + b"x" * 200 + b'"}}'
    fits = fits.replace(b"}}", b"}" + b" " * (limit - len(fits)) + b"}")
    assert len(fits) == limit
    assert (await post(anonymous, auth, fits)).status_code == 202
    over = fits + b" "
    declared = await post(anonymous, auth, over)

    async def chunks() -> AsyncIterator[bytes]:
        # Sent chunked, without Content-Length: cut off once the limit is passed.
        for start in range(0, len(over), 64 * 1024):
            yield over[start : start + 64 * 1024]

    streamed = await anonymous.post(PATH, content=chunks(), auth=auth, headers=JSON)
    # Refused before the credentials are checked: nothing of it is read to find out who sent it.
    anonymous_over = await post(anonymous, None, over)
    for r in (declared, streamed, anonymous_over):
        assert r.status_code == 413, r.text
        assert r.json()["error"]["code"] == "payload_too_large"
    assert len(await points(api, unique_id, "big")) == 1


async def test_the_device_tenant_owns_the_readings(hub: HubRuntime, api: Api, anonymous: httpx.AsyncClient) -> None:
    for tenant in ("ingest-a", "ingest-b"):
        assert (await api.http.post("/api/v1/tenants", json={"id": tenant, "name": tenant})).status_code == 201
        user = {"username": f"user-{tenant}", "password": "a-long-password-1", "tenant": tenant}
        assert (await api.http.post("/api/v1/users", json=user)).status_code == 201
    auth = await device(api, "a-sensor", tenant="ingest-a")
    assert (await post(anonymous, auth, {"values": {"t": 1}, "seq": 1})).status_code == 202
    user_a = await Api.login(hub.url, "user-ingest-a", "a-long-password-1")
    user_b = await Api.login(hub.url, "user-ingest-b", "a-long-password-1")
    try:
        assert await points(user_a, "a-sensor", "t") == [1.0]
        refused = await user_b.http.get("/api/v1/devices/a-sensor/telemetry", params={"key": "t"})
        assert refused.status_code == 404
    finally:
        await user_a.close()
        await user_b.close()


async def test_a_store_that_is_away_gets_503_with_retry_after(tmp_path: Path) -> None:
    async with running_hub(tmp_path / "data") as hub:
        api = await Api.login(hub.url)
        try:
            auth = await device(api, "away-sensor")
            async with httpx.AsyncClient(base_url=hub.url, timeout=20) as client:
                # The store goes away before the device's first request: its credentials cannot be looked up.
                await hub.services.store.database.close()
                r = await post(client, auth, {"values": {"t": 1}})
        finally:
            await api.close()
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "5"
        assert r.json()["error"]["code"] == "unavailable"
        assert sample(hub, "fieldhub_http_ingest_requests_total", {"outcome": "unavailable"}) == 1

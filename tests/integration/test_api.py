"""HTTP API: tokens, tenants and isolation, device registry, errors, telemetry queries."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest

from cloud.identity.principals import Principal, Role
from cloud.identity.tokens import TokenService
from cloud.runtime import HubRuntime
from contracts.telemetry import to_rfc3339
from tests.helpers.hub import ADMIN_PASSWORD, Api, store_readings

pytestmark = pytest.mark.timeout(60)


async def test_token_flow(hub: HubRuntime) -> None:
    async with httpx.AsyncClient(base_url=hub.url) as client:
        bad = await client.post("/api/v1/auth/token", data={"username": "admin", "password": "nope"})
        assert bad.status_code == 401
        assert bad.json()["error"]["code"] == "unauthorized"
        unknown = await client.post("/api/v1/auth/token", data={"username": "ghost", "password": "nope"})
        assert unknown.status_code == 401
        good = await client.post("/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD})
        assert good.status_code == 200
        body = good.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == 3600
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 3600
        assert (await client.get("/api/v1/devices")).status_code == 401
        forged = jwt.encode(
            {"sub": "admin", "role": "admin", "iss": "fieldhub", "exp": int(time.time()) + 60},
            "a-different-key-of-enough-length-0123456789",
            algorithm="HS256",
        )
        r = await client.get("/api/v1/devices", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401
        me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.json() == {"username": "admin", "role": "admin", "tenant": None}


async def test_expired_token_is_refused(hub: HubRuntime) -> None:
    key_file = hub.settings.data_dir / "secret.key"
    tokens = TokenService(key_file.read_text().strip(), ttl_s=-10, store=hub.services.store.identity)
    expired = await tokens.issue(Principal("admin", Role.ADMIN, None))
    async with httpx.AsyncClient(base_url=hub.url) as client:
        r = await client.get("/api/v1/devices", headers={"Authorization": f"Bearer {expired}"})
        assert r.status_code == 401


async def test_device_crud_and_errors(api: Api, unique_id: str) -> None:
    created = await api.create_device(unique_id, labels={"site": "north"}, kind="gateway")
    assert created["tenant"] == "default" and created["kind"] == "gateway"
    assert created["status"] == "offline" and created["last_seen"] is None
    dup = await api.http.post("/api/v1/devices", json={"id": unique_id, "name": "again"})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "conflict"
    shown = (await api.http.get(f"/api/v1/devices/{unique_id}")).json()
    assert "credentials" not in shown and "secret" not in str(shown)
    patched = await api.http.patch(f"/api/v1/devices/{unique_id}", json={"name": "Renamed", "labels": {"a": "b"}})
    assert patched.json()["name"] == "Renamed" and patched.json()["labels"] == {"a": "b"}
    generated = await api.http.post("/api/v1/devices", json={"name": "no id"})
    assert generated.status_code == 201 and generated.json()["id"].startswith("d-")
    assert (await api.http.delete(f"/api/v1/devices/{unique_id}")).status_code == 204
    assert (await api.http.get(f"/api/v1/devices/{unique_id}")).status_code == 404
    assert (await api.http.delete(f"/api/v1/devices/{unique_id}")).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x", "id": "has/slash"},
        {"name": "x", "id": "wild+card"},
        {"name": "x", "id": "#"},
        {"name": "x", "id": "$sys"},
        {"name": "x", "id": "a" * 65},
        {"name": "x", "kind": "toaster"},
        {"name": "x", "labels": {"k": "v" * 200}},
        {"name": "x", "unknown": 1},
        {"name": 5},
    ],
)
async def test_invalid_device_bodies_get_422(api: Api, body: dict[str, Any]) -> None:
    r = await api.http.post("/api/v1/devices", json=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request" and error["message"]


async def test_malformed_json_body_gets_422(api: Api) -> None:
    r = await api.http.post("/api/v1/devices", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


async def test_oversized_bodies_get_413_declared_or_streamed(api: Api, unique_id: str) -> None:
    await api.create_device(unique_id)
    big = b'{"blob": "' + b"x" * (1024 * 1024 + 1) + b'"}'
    path = f"/api/v1/devices/{unique_id}/state/desired"
    declared = await api.http.put(path, content=big, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "payload_too_large"

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    streamed = await api.http.put(path, content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "payload_too_large"
    # Within the API limit but over the state limit: refused by the route, with the limit named.
    state = await api.http.put(path, json={"blob": "x" * 70_000})
    assert state.status_code == 422 and "65536" in state.json()["error"]["message"]
    assert (await api.http.get(f"/api/v1/devices/{unique_id}/state")).json()["desired"] is None


async def test_listing_filters_and_pagination(api: Api, unique_id: str) -> None:
    for i in range(5):
        await api.create_device(f"{unique_id}-{i}", labels={"zone": "a" if i % 2 else "b"})
    page = (await api.http.get("/api/v1/devices", params={"limit": 2, "offset": 1})).json()
    assert page["total"] == 5 and len(page["items"]) == 2 and page["items"][0]["id"] == f"{unique_id}-1"
    zone_a = (await api.http.get("/api/v1/devices", params={"label": "zone=a"})).json()
    assert {d["id"] for d in zone_a["items"]} == {f"{unique_id}-1", f"{unique_id}-3"}
    assert (await api.http.get("/api/v1/devices", params={"label": "nokey"})).status_code == 422
    assert (await api.http.get("/api/v1/devices", params={"limit": 0})).status_code == 422
    assert (await api.http.get("/api/v1/devices", params={"status": "online"})).json()["total"] == 0


async def test_tenant_isolation(hub: HubRuntime, api: Api) -> None:
    for tenant in ("tenant-a", "tenant-b"):
        r = await api.http.post("/api/v1/tenants", json={"id": tenant, "name": tenant.upper()})
        assert r.status_code == 201 and r.json()["id"] == tenant
        r = await api.http.post(
            "/api/v1/users", json={"username": f"user-{tenant}", "password": "a-long-password-1", "tenant": tenant}
        )
        assert r.status_code == 201
    assert (await api.http.post("/api/v1/tenants", json={"id": "tenant-a", "name": "again"})).status_code == 409
    b_device = await api.create_device("b-device", tenant="tenant-b")
    user_a = await Api.login(hub.url, "user-tenant-a", "a-long-password-1")
    try:
        assert (await user_a.http.get("/api/v1/devices/b-device")).status_code == 404
        assert (await user_a.http.get("/api/v1/devices/b-device/latest")).status_code == 404
        assert (await user_a.http.get("/api/v1/devices/b-device/telemetry", params={"key": "t"})).status_code == 404
        assert (await user_a.http.patch("/api/v1/devices/b-device", json={"name": "mine"})).status_code == 404
        assert (await user_a.http.delete("/api/v1/devices/b-device")).status_code == 404
        assert (await user_a.http.post("/api/v1/devices/b-device/credentials")).status_code == 404
        assert (await user_a.http.put("/api/v1/devices/b-device/state/desired", json={"x": 1})).status_code == 404
        own = await user_a.create_device("a-device")
        assert own["tenant"] == "tenant-a"
        other = await user_a.http.post("/api/v1/devices", json={"name": "x", "tenant": "tenant-b"})
        assert other.status_code == 404
        listing = (await user_a.http.get("/api/v1/devices")).json()
        assert [d["id"] for d in listing["items"]] == ["a-device"]
        assert (await user_a.http.get("/api/v1/devices", params={"tenant": "tenant-b"})).status_code == 404
        tenants = (await user_a.http.get("/api/v1/tenants")).json()["items"]
        assert [t["id"] for t in tenants] == ["tenant-a"]
        assert (await user_a.http.post("/api/v1/tenants", json={"name": "mine"})).status_code == 403
        assert (await user_a.http.get("/api/v1/ingest/stats")).status_code == 403
    finally:
        await user_a.close()
    # The admin sees both tenants' devices.
    everything = (await api.http.get("/api/v1/devices")).json()
    assert {"a-device", b_device["id"]} <= {d["id"] for d in everything["items"]}


async def test_aggregation_matches_hand_computed_values(hub: HubRuntime, api: Api, unique_id: str) -> None:
    secret = (await api.create_device(unique_id))["credentials"]["password"]
    base = (time.time_ns() // 1_000_000 // 60_000 - 10) * 60_000  # a minute boundary ten minutes ago
    # minute 0: 1, 2, 3, 6 ; minute 1: 10, 20 ; minute 3: -5
    readings = [(0, 1), (10_000, 2), (20_000, 3), (59_999, 6), (60_000, 10), (119_000, 20), (180_500, -5)]
    messages = [{"ts": base + dt, "values": {"t": v}, "seq": i} for i, (dt, v) in enumerate(readings)]
    await store_readings(hub, api, unique_id, secret, messages, "t")

    async def agg(fn: str, **extra: Any) -> list[tuple[str, float]]:
        r = await api.http.get(
            f"/api/v1/devices/{unique_id}/telemetry", params={"key": "t", "agg": fn, "interval": "60s", **extra}
        )
        assert r.status_code == 200, r.text
        return [(p["ts"], p["value"]) for p in r.json()["points"]]

    m0, m1, m3 = to_rfc3339(base), to_rfc3339(base + 60_000), to_rfc3339(base + 180_000)
    assert await agg("avg") == [(m0, 3.0), (m1, 15.0), (m3, -5.0)]
    assert await agg("min") == [(m0, 1.0), (m1, 10.0), (m3, -5.0)]
    assert await agg("max") == [(m0, 6.0), (m1, 20.0), (m3, -5.0)]
    assert await agg("sum") == [(m0, 12.0), (m1, 30.0), (m3, -5.0)]
    assert await agg("count") == [(m0, 4.0), (m1, 2.0), (m3, 1.0)]
    # start/end in epoch ms and RFC 3339 (end exclusive), descending order, limit
    assert await agg("sum", start=str(base + 60_000), end=m3) == [(m1, 30.0)]
    assert await agg("count", order="desc", limit=2) == [(m3, 1.0), (m1, 2.0)]
    raw = await api.http.get(
        f"/api/v1/devices/{unique_id}/telemetry", params={"key": "t", "start": m1, "limit": 2, "order": "desc"}
    )
    assert [p["value"] for p in raw.json()["points"]] == [-5.0, 20.0]
    for bad in (
        {"agg": "avg"},
        {"agg": "median", "interval": "60s"},
        {"agg": "avg", "interval": "sixty"},
        {"start": "yesterday"},
        {"start": m3, "end": m0},
        {"interval": "60s"},
        {"limit": "0"},
    ):
        r = await api.http.get(f"/api/v1/devices/{unique_id}/telemetry", params={"key": "t", **bad})
        assert r.status_code == 422, (bad, r.text)
    assert (await api.http.get(f"/api/v1/devices/{unique_id}/telemetry")).status_code == 422


async def test_health_metrics_and_contracts(hub: HubRuntime) -> None:
    async with httpx.AsyncClient(base_url=hub.url) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok", "store": "ok"}
        assert (await client.get("/metrics")).status_code == 401  # see test_metrics_access.py
        names = (await client.get("/api/v1/contracts")).json()["items"]
        assert "telemetry" in names
        schema = (await client.get("/api/v1/contracts/telemetry")).json()
        assert schema["$defs"]["TelemetryMessage"]["properties"]["values"]
        assert (await client.get("/api/v1/contracts/nope")).status_code == 404
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "Fieldhub"


async def test_error_answers_are_counted_by_code(hub: HubRuntime, api: Api) -> None:
    def count(code: str) -> float:
        return hub.services.metrics.registry.get_sample_value("fieldhub_api_errors_total", {"code": code}) or 0.0

    before = {code: count(code) for code in ("invalid_request", "not_found", "unauthorized", "payload_too_large")}
    assert (await api.http.post("/api/v1/devices", json={"name": ""})).status_code == 422
    assert (await api.http.get("/api/v1/devices/no-such-device")).status_code == 404
    async with httpx.AsyncClient(base_url=hub.url) as anonymous:
        assert (await anonymous.get("/api/v1/devices")).status_code == 401
    big = b"{" + b" " * (1024 * 1024) + b"}"
    too_big = await api.http.post("/api/v1/devices", content=big, headers={"Content-Type": "application/json"})
    assert too_big.status_code == 413
    for code, was in before.items():
        assert count(code) == was + 1, code
    exposition = (await api.http.get("/metrics")).text
    assert 'fieldhub_api_errors_total{code="not_found"}' in exposition

"""Provisioning tokens and gateway enrollment over the real API and broker."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from cloud.runtime import HubRuntime
from tests.helpers.hub import Api
from tests.helpers.mqtt import TestDevice

pytestmark = pytest.mark.timeout(60)


async def test_a_token_enrolls_gateways_until_used_up(hub: HubRuntime, api: Api, unique_id: str) -> None:
    tenant = (await api.http.post("/api/v1/tenants", json={"name": "Farm"})).json()["id"]
    body = {"tenant": tenant, "uses": 2, "expires_in_s": 600, "labels": {"site": "north"}}
    created = (await api.http.post("/api/v1/provisioning-tokens", json=body)).json()
    token = created["token"]
    assert created["uses_left"] == 2 and token.startswith(created["id"] + ".")
    listed = (await api.http.get("/api/v1/provisioning-tokens")).json()["items"]
    assert created["id"] in {t["id"] for t in listed} and all("token" not in t for t in listed)

    async with httpx.AsyncClient(base_url=hub.url) as anonymous:
        first = await anonymous.post("/api/v1/enroll", json={"token": token, "name": "Pi", "id": unique_id})
        assert first.status_code == 201, first.text
        enrolled = first.json()
        assert enrolled["device"]["tenant"] == tenant and enrolled["device"]["kind"] == "gateway"
        assert enrolled["device"]["labels"] == {"site": "north"} and enrolled["mqtt_port"] == hub.mqtt_port
        secret = enrolled["credentials"]["password"]
        device = await asyncio.to_thread(TestDevice(hub.mqtt_port, unique_id, secret).connect)
        await asyncio.to_thread(device.close)

        taken = await anonymous.post("/api/v1/enroll", json={"token": token, "name": "Pi", "id": unique_id})
        assert taken.status_code == 409  # a taken id does not burn a use
        second = await anonymous.post("/api/v1/enroll", json={"token": token, "name": "Pi 2"})
        assert second.status_code == 201
        third = await anonymous.post("/api/v1/enroll", json={"token": token, "name": "Pi 3"})
        assert third.status_code == 401 and third.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("token", ["", "nodot", "pt-000000000000.wrong", "pt-000000000000", "x" * 201])
async def test_bad_tokens_all_get_the_same_refusal(hub: HubRuntime, token: str) -> None:
    async with httpx.AsyncClient(base_url=hub.url) as anonymous:
        r = await anonymous.post("/api/v1/enroll", json={"token": token, "name": "Pi"})
        assert r.status_code in (401, 422)
        if r.status_code == 401:
            assert r.json()["error"]["message"] == "invalid, expired or used-up provisioning token"


async def test_wrong_secret_of_a_real_token_and_revocation(hub: HubRuntime, api: Api) -> None:
    created = (await api.http.post("/api/v1/provisioning-tokens", json={})).json()
    async with httpx.AsyncClient(base_url=hub.url) as anonymous:
        forged = await anonymous.post("/api/v1/enroll", json={"token": created["id"] + ".guess", "name": "Pi"})
        assert forged.status_code == 401
        assert (await api.http.delete(f"/api/v1/provisioning-tokens/{created['id']}")).status_code == 204
        revoked = await anonymous.post("/api/v1/enroll", json={"token": created["token"], "name": "Pi"})
        assert revoked.status_code == 401


async def test_only_admins_of_the_tenant_manage_tokens(hub: HubRuntime, api: Api, unique_id: str) -> None:
    user = {"username": f"u-{unique_id}", "password": "a-long-password-1", "role": "user", "tenant": "default"}
    assert (await api.http.post("/api/v1/users", json=user)).status_code == 201
    plain = await Api.login(hub.url, user["username"], user["password"])
    try:
        assert (await plain.http.post("/api/v1/provisioning-tokens", json={})).status_code == 403
    finally:
        await plain.close()
    other = (await api.http.post("/api/v1/tenants", json={"name": "Other"})).json()["id"]
    admin = {"username": f"a-{unique_id}", "password": "a-long-password-2", "role": "admin", "tenant": other}
    assert (await api.http.post("/api/v1/users", json=admin)).status_code == 201
    tenant_admin = await Api.login(hub.url, admin["username"], admin["password"])
    try:
        mine = await tenant_admin.http.post("/api/v1/provisioning-tokens", json={})
        assert mine.status_code == 201 and mine.json()["tenant"] == other
        elsewhere = await tenant_admin.http.post("/api/v1/provisioning-tokens", json={"tenant": "default"})
        assert elsewhere.status_code == 404
        foreign = (await api.http.post("/api/v1/provisioning-tokens", json={})).json()["id"]
        assert (await tenant_admin.http.delete(f"/api/v1/provisioning-tokens/{foreign}")).status_code == 404
    finally:
        await tenant_admin.close()

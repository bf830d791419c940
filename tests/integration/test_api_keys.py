"""API keys act for their creator, never with more rights, and stop at once when revoked or when the creator
is deleted, disabled or demoted; disabled users; renaming and deleting tenants. A real hub on free ports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.runtime import HubRuntime
from tests.helpers.hub import ADMIN_PASSWORD, Api, running_hub
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)
PASSWORD = "a-long-password-1"


async def _user(api: Api, username: str, tenant: str, role: str = "user") -> None:
    if (await api.http.get(f"/api/v1/tenants/{tenant}")).status_code == 404:
        await api.created("/api/v1/tenants", {"id": tenant, "name": tenant})
    await api.created("/api/v1/users", {"username": username, "password": PASSWORD, "role": role, "tenant": tenant})


async def _as(
    client: httpx.AsyncClient, key: str, method: str = "GET", path: str = "/api/v1/auth/me"
) -> httpx.Response:
    return await client.request(method, path, headers={"Authorization": f"Bearer {key}"})


async def _key(api: Api, **body: Any) -> dict[str, Any]:
    return await api.created("/api/v1/api-keys", {"name": "ci", **body})


async def test_a_key_acts_for_its_creator_in_its_tenant_and_is_shown_once(hub: HubRuntime, api: Api) -> None:
    await _user(api, "kim", "t-keys")
    kim = await Api.login(hub.url, "kim", PASSWORD)
    try:
        created = await _key(kim, expires_in_s=3600)
        key = created["key"]
        assert key.startswith(f"fhk_{created['id']}_")
        assert created["role"] == "user" and created["tenant"] == "t-keys" and created["creator"] == "kim"
        assert created["expires"] is not None and created["last_used"] is None
        async with httpx.AsyncClient(base_url=hub.url) as anyone:
            me = await _as(anyone, key)
            assert me.status_code == 200
            assert me.json() == {"username": "kim", "role": "user", "tenant": "t-keys"}
            made = await anyone.post(
                "/api/v1/devices", json={"id": "k-dev", "name": "k"}, headers={"Authorization": f"Bearer {key}"}
            )
            assert made.status_code == 201 and made.json()["tenant"] == "t-keys"
            assert (await _as(anyone, key, path="/api/v1/users")).status_code == 403  # a user, not an admin
            assert (await _as(anyone, "fhk_nope_nope")).status_code == 401
            assert (await _as(anyone, key[:-2] + "xx")).status_code == 401
        listed = (await kim.http.get("/api/v1/api-keys")).json()["items"]
        assert [k["id"] for k in listed] == [created["id"]]
        assert "key" not in listed[0] and "digest" not in listed[0] and "salt" not in listed[0]
        assert listed[0]["last_used"] is not None  # the requests above used it
        assert key not in (await api.http.get("/api/v1/api-keys")).text
    finally:
        await kim.close()


async def test_a_key_never_has_more_rights_than_its_creator(hub: HubRuntime, api: Api) -> None:
    await _user(api, "lee", "t-rank")
    await _user(api, "lee-admin", "t-rank", role="admin")
    await _user(api, "other", "t-else", role="admin")
    lee = await Api.login(hub.url, "lee", PASSWORD)
    boss = await Api.login(hub.url, "lee-admin", PASSWORD)
    stranger = await Api.login(hub.url, "other", PASSWORD)
    try:
        assert "more rights" in await lee.refused("POST", "/api/v1/api-keys", 403, {"name": "x", "role": "admin"})
        await lee.refused("POST", "/api/v1/api-keys", 422, {"name": "x", "expires_in_s": 0})
        await lee.refused("POST", "/api/v1/api-keys", 422, {"name": "x", "tenant": "t-else"})
        mine = await _key(lee)
        admin_key = await _key(boss, role="admin")
        user_key = await _key(boss, role="user")
        assert (admin_key["role"], user_key["role"]) == ("admin", "user")
        # A user sees its own keys, an admin its tenant's, the platform admin all; others' keys are absent.
        assert [k["id"] for k in (await lee.http.get("/api/v1/api-keys")).json()["items"]] == [mine["id"]]
        seen_by_boss = {k["id"] for k in (await boss.http.get("/api/v1/api-keys")).json()["items"]}
        assert seen_by_boss == {mine["id"], admin_key["id"], user_key["id"]}
        assert {k["id"] for k in (await api.http.get("/api/v1/api-keys")).json()["items"]} >= seen_by_boss
        assert (await stranger.http.get("/api/v1/api-keys")).json()["items"] == []
        assert (await stranger.http.delete(f"/api/v1/api-keys/{mine['id']}")).status_code == 404
        assert (await lee.http.delete(f"/api/v1/api-keys/{admin_key['id']}")).status_code == 404
        # Demoting the creator stops its admin key at once; its user key keeps working.
        async with httpx.AsyncClient(base_url=hub.url) as anyone:
            assert (await _as(anyone, admin_key["key"], path="/api/v1/users")).status_code == 200
            assert (await api.http.patch("/api/v1/users/lee-admin", json={"role": "user"})).status_code == 200
            assert (await _as(anyone, admin_key["key"])).status_code == 401
            assert (await _as(anyone, user_key["key"])).status_code == 200
            # A key makes keys for its creator, with no more than its own role.
            refused = await anyone.post(
                "/api/v1/api-keys",
                json={"name": "y", "role": "admin"},
                headers={"Authorization": f"Bearer {user_key['key']}"},
            )
            assert refused.status_code == 403
    finally:
        for client in (lee, boss, stranger):
            await client.close()


async def test_a_deleted_or_disabled_creator_stops_its_keys_at_once(hub: HubRuntime, api: Api) -> None:
    await _user(api, "max", "t-gone")
    await _user(api, "ned", "t-gone")
    max_ = await Api.login(hub.url, "max", PASSWORD)
    ned = await Api.login(hub.url, "ned", PASSWORD)
    try:
        max_key, ned_key = (await _key(max_))["key"], (await _key(ned))["key"]
        async with httpx.AsyncClient(base_url=hub.url) as anyone:
            assert (await _as(anyone, max_key)).status_code == 200
            assert (await api.http.delete("/api/v1/users/max")).status_code == 204
            assert (await _as(anyone, max_key)).status_code == 401
            await _user(api, "max", "t-gone")  # someone new of that name does not inherit the key
            assert (await _as(anyone, max_key)).status_code == 401

            assert (await api.http.patch("/api/v1/users/ned", json={"disabled": True})).json()["disabled"] is True
            assert (await _as(anyone, ned_key)).status_code == 401
            assert (await ned.http.get("/api/v1/auth/me")).status_code == 401
            # Enabled again: its keys work again, its tokens stay revoked.
            assert (await api.http.patch("/api/v1/users/ned", json={"disabled": False})).json()["disabled"] is False
            assert (await _as(anyone, ned_key)).status_code == 200
            assert (await ned.http.get("/api/v1/auth/me")).status_code == 401
    finally:
        await max_.close()
        await ned.close()


async def test_an_expired_key_is_refused(hub: HubRuntime, api: Api) -> None:
    created = await _key(api, expires_in_s=1)
    async with httpx.AsyncClient(base_url=hub.url) as anyone:

        async def refused() -> bool:
            return (await _as(anyone, created["key"])).status_code == 401

        await eventually(refused, within=5, what="the key expired")


async def test_signing_out_with_a_key_revokes_it(hub: HubRuntime, api: Api) -> None:
    created = await _key(api)
    async with httpx.AsyncClient(base_url=hub.url) as anyone:
        assert (await _as(anyone, created["key"], "POST", "/api/v1/auth/logout")).status_code == 204
        assert (await _as(anyone, created["key"])).status_code == 401
    assert created["id"] not in {k["id"] for k in (await api.http.get("/api/v1/api-keys")).json()["items"]}


async def test_another_hub_process_refuses_a_revoked_key_at_once(tmp_path: Path) -> None:
    """Two hubs on one store, as API replicas are: a key deleted at one is refused by the other at once."""
    data = tmp_path / "data"
    async with running_hub(data) as first, running_hub(data) as second:
        admin = await Api.login(first.url, "admin", ADMIN_PASSWORD)
        try:
            created = await _key(admin)
            async with httpx.AsyncClient(base_url=second.url) as at_second:
                assert (await _as(at_second, created["key"])).status_code == 200
                assert (await admin.http.delete(f"/api/v1/api-keys/{created['id']}")).status_code == 204
                assert (await _as(at_second, created["key"])).status_code == 401
            assert (await admin.http.delete(f"/api/v1/api-keys/{created['id']}")).status_code == 404
        finally:
            await admin.close()


async def test_a_disabled_user_is_refused_at_once_and_cannot_sign_in(hub: HubRuntime, api: Api) -> None:
    await _user(api, "olga", "t-off")
    olga = await Api.login(hub.url, "olga", PASSWORD)
    try:
        assert (await api.http.patch("/api/v1/users/olga", json={"disabled": True})).status_code == 200
        assert (await olga.http.get("/api/v1/auth/me")).status_code == 401
        assert (await api.http.get("/api/v1/users/olga")).json()["disabled"] is True
        async with httpx.AsyncClient(base_url=hub.url) as anyone:
            disabled = await anyone.post("/api/v1/auth/token", data={"username": "olga", "password": PASSWORD})
            wrong = await anyone.post("/api/v1/auth/token", data={"username": "olga", "password": "wrong-password-1"})
            assert disabled.status_code == wrong.status_code == 401
            assert disabled.json() == wrong.json()
            await api.refused("PATCH", "/api/v1/users/admin", 403, {"disabled": True})
            assert (await api.http.patch("/api/v1/users/olga", json={"disabled": False})).status_code == 200
            again = await anyone.post("/api/v1/auth/token", data={"username": "olga", "password": PASSWORD})
            assert again.status_code == 200
    finally:
        await olga.close()


async def test_tenants_are_renamed_and_deleted_only_when_empty(hub: HubRuntime, api: Api) -> None:
    await _user(api, "pia", "t-empty")
    renamed = await api.http.patch("/api/v1/tenants/t-empty", json={"name": "Renamed"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Renamed"
    assert (await api.http.get("/api/v1/tenants/t-empty")).json()["name"] == "Renamed"
    await api.refused("PATCH", "/api/v1/tenants/nope", 404, {"name": "x"})
    await api.created("/api/v1/devices", {"id": "te-dev", "name": "d", "tenant": "t-empty"})
    refused = await api.http.delete("/api/v1/tenants/t-empty")
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert "1 devices" in error["message"] and "1 users" in error["message"]
    assert error["details"] == [{"kind": "devices", "count": 1}, {"kind": "users", "count": 1}]
    pia = await Api.login(hub.url, "pia", PASSWORD)
    try:
        await pia.refused("DELETE", "/api/v1/tenants/t-empty", 403)
        await pia.refused("PATCH", "/api/v1/tenants/t-empty", 403, {"name": "Mine"})
    finally:
        await pia.close()
    assert (await api.http.delete("/api/v1/devices/te-dev")).status_code == 204
    assert (await api.http.delete("/api/v1/users/pia")).status_code == 204
    assert (await api.http.delete("/api/v1/tenants/t-empty")).status_code == 204
    assert (await api.http.get("/api/v1/tenants/t-empty")).status_code == 404
    await api.refused("DELETE", "/api/v1/tenants/t-empty", 404)
    assert "cannot be deleted" in await api.refused("DELETE", "/api/v1/tenants/default", 403)

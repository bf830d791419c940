"""Tokens stand for what they were issued for: a session of a user as it then was.

Signing out, deleting a user or changing its password or role stops its tokens at once, in every hub
process; a token the hub's key signed for a user it does not know is refused; a live stream ends when
its token expires or is revoked.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest

from cloud.api import telemetry as telemetry_api
from cloud.identity.principals import Principal, Role
from cloud.identity.tokens import TokenService
from cloud.runtime import HubRuntime
from tests.helpers.hub import ADMIN_PASSWORD, Api, connected_device, running_hub

pytestmark = pytest.mark.timeout(60)
PASSWORD = "a-long-password-1"


async def _status(client: Api | httpx.AsyncClient, token: str | None = None) -> int:
    """What ``GET /auth/me`` answers the client (or ``token`` through it)."""
    http = client.http if isinstance(client, Api) else client
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return (await http.get("/api/v1/auth/me", headers=headers)).status_code


async def _user(api: Api, username: str, tenant: str, role: str = "user") -> None:
    if (await api.http.get(f"/api/v1/tenants/{tenant}")).status_code == 404:
        assert (await api.http.post("/api/v1/tenants", json={"id": tenant, "name": tenant})).status_code == 201
    body = {"username": username, "password": PASSWORD, "role": role, "tenant": tenant}
    r = await api.http.post("/api/v1/users", json=body)
    assert r.status_code == 201, r.text


@asynccontextmanager
async def _logged_in(hub: HubRuntime, username: str, password: str = PASSWORD) -> AsyncIterator[Api]:
    client = await Api.login(hub.url, username, password)
    try:
        yield client
    finally:
        await client.close()


def _hub_key(hub: HubRuntime) -> str:
    return (hub.settings.data_dir / "secret.key").read_text().strip()


async def _sign_out(hub: HubRuntime, token: str) -> None:
    """Sign ``token`` out on a connection of its own (the caller's may be busy with a stream)."""
    async with httpx.AsyncClient(base_url=hub.url) as other:
        r = await other.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 204, r.text


async def test_a_deleted_users_token_is_refused_and_stays_refused(hub: HubRuntime, api: Api) -> None:
    await _user(api, "dora", "t-del")
    async with _logged_in(hub, "dora") as dora:
        assert await _status(dora) == 200
        assert (await api.http.delete("/api/v1/users/dora")).status_code == 204
        refused = await dora.http.get("/api/v1/auth/me")
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
        assert (await dora.http.get("/api/v1/devices")).status_code == 401
        # A new user of the same name is someone else: the old token does not come back to life.
        await _user(api, "dora", "t-del")
        assert await _status(dora) == 401
    assert (await api.http.delete("/api/v1/users/nobody-here")).status_code == 404


async def test_tokens_the_hub_key_signed_for_users_it_does_not_know_are_refused(hub: HubRuntime) -> None:
    now = int(time.time())
    claims = {"iss": "fieldhub", "role": "admin", "tenant": None, "iat": now, "exp": now + 600}
    key = _hub_key(hub)
    never_existed = jwt.encode({**claims, "sub": "mallory", "sid": secrets.token_urlsafe(16), "ver": 0}, key)
    no_session = jwt.encode({**claims, "sub": "admin", "sid": secrets.token_urlsafe(16), "ver": 0}, key)
    without_session_claims = jwt.encode({**claims, "sub": "admin"}, key)  # what tokens were before sessions
    # Even a session the hub recorded is refused for a user the store does not hold.
    issued_to_a_stranger = await hub.services.tokens.issue(Principal("mallory", Role.ADMIN, None, 0))
    async with httpx.AsyncClient(base_url=hub.url) as client:
        for token in (never_existed, no_session, without_session_claims, issued_to_a_stranger):
            assert await _status(client, token) == 401
            assert (await client.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_logout_revokes_that_token_at_once_and_no_other(hub: HubRuntime) -> None:
    async with _logged_in(hub, "admin", ADMIN_PASSWORD) as first, _logged_in(hub, "admin", ADMIN_PASSWORD) as second:
        assert (await first.http.post("/api/v1/auth/logout")).status_code == 204
        assert await _status(first) == 401
        assert (await first.http.post("/api/v1/auth/logout")).status_code == 401
        assert await _status(second) == 200
        assert (await second.http.get("/api/v1/devices")).status_code == 200
    async with httpx.AsyncClient(base_url=hub.url) as anonymous:
        assert (await anonymous.post("/api/v1/auth/logout")).status_code == 401


async def test_an_admin_changing_a_password_or_role_revokes_every_token_of_the_user(hub: HubRuntime, api: Api) -> None:
    await _user(api, "erin", "t-chg")
    async with _logged_in(hub, "erin") as phone, _logged_in(hub, "erin") as laptop:
        r = await api.http.patch("/api/v1/users/erin", json={"password": "another-long-password"})
        assert r.status_code == 200
        assert r.json() == {"username": "erin", "role": "user", "tenant": "t-chg", "source": "local", "disabled": False}
        assert await _status(phone) == 401 and await _status(laptop) == 401
    async with httpx.AsyncClient(base_url=hub.url) as client:
        old = await client.post("/api/v1/auth/token", data={"username": "erin", "password": PASSWORD})
        assert old.status_code == 401
    async with _logged_in(hub, "erin", "another-long-password") as erin:
        assert (await erin.http.get("/api/v1/auth/me")).json()["role"] == "user"
        r = await api.http.patch("/api/v1/users/erin", json={"role": "admin"})
        assert r.status_code == 200 and r.json()["role"] == "admin"
        assert await _status(erin) == 401
    async with _logged_in(hub, "erin", "another-long-password") as erin:
        assert (await erin.http.get("/api/v1/auth/me")).json()["role"] == "admin"
        assert (await api.http.get("/api/v1/users/erin")).json()["role"] == "admin"


async def test_changing_ones_own_password_revokes_ones_tokens(hub: HubRuntime, api: Api) -> None:
    await _user(api, "fred", "t-own")
    async with _logged_in(hub, "fred") as fred, _logged_in(hub, "fred") as elsewhere:
        wrong = await fred.http.post(
            "/api/v1/auth/password", json={"current_password": "not-my-password", "new_password": "a-new-password-1"}
        )
        assert wrong.status_code == 401 and await _status(fred) == 200  # nothing changed
        short = await fred.http.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "x"})
        assert short.status_code == 422
        r = await fred.http.post(
            "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "a-new-password-1"}
        )
        assert r.status_code == 204
        assert await _status(fred) == 401 and await _status(elsewhere) == 401
    async with _logged_in(hub, "fred", "a-new-password-1") as fred:
        assert await _status(fred) == 200


async def test_user_management_keeps_to_the_tenant_rules(hub: HubRuntime, api: Api) -> None:
    await _user(api, "gina-admin", "t-ga", role="admin")
    await _user(api, "gina-user", "t-ga")
    await _user(api, "hank", "t-gb")
    async with _logged_in(hub, "gina-admin") as tenant_admin, _logged_in(hub, "gina-user") as user:
        # Another tenant's user and the platform admin are as absent as a user that does not exist.
        for name in ("hank", "admin", "nobody"):
            assert (await tenant_admin.http.get(f"/api/v1/users/{name}")).status_code == 404
            assert (await tenant_admin.http.patch(f"/api/v1/users/{name}", json={"role": "admin"})).status_code == 404
            assert (await tenant_admin.http.delete(f"/api/v1/users/{name}")).status_code == 404
        assert (await user.http.patch("/api/v1/users/gina-user", json={"role": "admin"})).status_code == 403
        assert (await user.http.delete("/api/v1/users/gina-user")).status_code == 403
        assert (await tenant_admin.http.patch("/api/v1/users/gina-user", json={})).status_code == 422
        assert (await tenant_admin.http.patch("/api/v1/users/gina-user", json={"tenant": "t-gb"})).status_code == 422
        assert (await tenant_admin.http.patch("/api/v1/users/gina-user", json={"password": "short"})).status_code == 422
        assert await _status(user) == 200  # refused changes revoke nothing
        assert (await tenant_admin.http.delete("/api/v1/users/gina-user")).status_code == 204
        assert await _status(user) == 401
    # The platform admin manages everyone, but keeps itself and stays a platform admin.
    assert (await api.http.patch("/api/v1/users/hank", json={"role": "admin"})).json()["role"] == "admin"
    assert (await api.http.delete("/api/v1/users/admin")).status_code == 403
    assert (await api.http.patch("/api/v1/users/admin", json={"role": "user"})).status_code == 422
    assert await _status(api) == 200


async def test_the_platform_admins_reset_at_start_revokes_its_tokens(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running_hub(data) as hub, _logged_in(hub, "admin", ADMIN_PASSWORD) as admin:
        token = admin.http.headers["Authorization"].split()[1]
    # Started again with the same password (as every replica is): its tokens stay good.
    async with running_hub(data) as hub, httpx.AsyncClient(base_url=hub.url) as client:
        assert await _status(client, token) == 200
    # A demo start without a password makes a new one: every earlier token of the admin stops working.
    async with running_hub(data, admin_password=None) as hub, httpx.AsyncClient(base_url=hub.url) as client:
        assert hub.generated_admin_password is not None
        assert await _status(client, token) == 401


async def _read_events(lines: AsyncIterator[str], until: str) -> list[tuple[str, dict[str, Any]]]:
    """``(event, data)`` of every event up to and including the first ``until`` event; the stream must then end."""
    events: list[tuple[str, dict[str, Any]]] = []
    name = ""
    async for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((name, orjson.loads(line.removeprefix("data: "))))
            if name == until:
                break
    assert [line async for line in lines if line] == []  # the hub closed the stream after it
    return events


async def test_a_live_stream_ends_when_its_token_expires(hub: HubRuntime, unique_id: str) -> None:
    async with _logged_in(hub, "admin", ADMIN_PASSWORD) as admin:
        await admin.create_device(unique_id)
        principal = await hub.services.users.get("admin")
        assert principal is not None
        short = await TokenService(_hub_key(hub), ttl_s=2, store=hub.services.store.identity).issue(principal)
        async with (
            asyncio.timeout(10),
            admin.http.stream(
                "GET",
                f"/api/v1/devices/{unique_id}/live",
                params={"access_token": short},
                headers={"Authorization": ""},
            ) as response,
        ):
            assert response.status_code == 200
            events = await _read_events(response.aiter_lines(), until="end")
        assert events == [("end", {"reason": "token_expired"})]
        assert jwt.decode(short, options={"verify_signature": False})["exp"] <= time.time()
        assert await _status(admin, short) == 401


async def test_a_live_stream_ends_once_its_token_is_revoked(hub: HubRuntime, unique_id: str) -> None:
    async with _logged_in(hub, "admin", ADMIN_PASSWORD) as admin:
        device = await connected_device(hub, unique_id, admin)
        token = admin.http.headers["Authorization"].split()[1]
        try:
            async with (
                asyncio.timeout(10),
                admin.http.stream("GET", f"/api/v1/devices/{unique_id}/live") as response,
            ):
                lines = response.aiter_lines()
                assert (await anext(lines)).startswith(": connected")
                await _sign_out(hub, token)
                await asyncio.to_thread(device.publish, f"devices/{unique_id}/telemetry", b'{"values": {"t": 1}}')
                events = await _read_events(lines, until="end")
        finally:
            await asyncio.to_thread(device.close)
        # A message may go out on the strength of a check made less than a second before: never more than that.
        assert events[-1] == ("end", {"reason": "revoked"})
        assert [name for name, _ in events[:-1]] in ([], ["telemetry"])


async def test_an_idle_live_stream_ends_at_its_next_keepalive_once_revoked(
    hub: HubRuntime, unique_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telemetry_api, "KEEPALIVE_S", 0.5)
    async with _logged_in(hub, "admin", ADMIN_PASSWORD) as admin:
        await admin.create_device(unique_id)
        async with (
            asyncio.timeout(10),
            admin.http.stream("GET", f"/api/v1/devices/{unique_id}/live") as response,
        ):
            lines = response.aiter_lines()
            assert (await anext(lines)).startswith(": connected")
            await _sign_out(hub, admin.http.headers["Authorization"].split()[1])
            events = await _read_events(lines, until="end")
        assert events == [("end", {"reason": "revoked"})]


async def test_another_hub_process_sees_a_revocation_at_once(tmp_path: Path) -> None:
    """Two hubs on one store, as API replicas are: a sign-out at one is refused by the other at once."""
    data = tmp_path / "data"
    async with (
        running_hub(data) as first,
        running_hub(data) as second,
        _logged_in(first, "admin", ADMIN_PASSWORD) as at_first,
        httpx.AsyncClient(base_url=second.url) as at_second,
    ):
        token = at_first.http.headers["Authorization"].split()[1]
        assert await _status(at_second, token) == 200
        assert (
            await at_second.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
        ).status_code == 204
        assert await _status(at_first) == 401

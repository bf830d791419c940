"""Directory sign-in against a real slapd: groups decide role and tenant, refusals look alike, the directory
may go away (503 for its users, local users go on), and directory users are listed with their source."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.runtime import HubRuntime
from tests.helpers.hub import ADMIN_PASSWORD, Api, running_hub
from tests.helpers.slapd import DIRECTORY_USERS, TEAM_BASE, Slapd, group_dn
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(90)

TENANT = "site-a"
RECHECK_S = 60
GROUPS: dict[str, dict[str, Any]] = {
    # Listed user group first: the order of precedence is by kind, not by place here.
    "site-a-users": {"role": "user", "tenant": TENANT},
    "site-a-admins": {"role": "admin", "tenant": TENANT},
    "platform-admins": {"role": "admin", "tenant": None},
}


def password(uid: str) -> str:
    return DIRECTORY_USERS[uid]


async def sign_in(hub: HubRuntime, username: str, secret: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=hub.url, timeout=20) as client:
        return await client.post("/api/v1/auth/token", data={"username": username, "password": secret})


async def as_user(hub: HubRuntime, username: str, secret: str) -> Api:
    return await Api.login(hub.url, username, secret)


@pytest.fixture
async def directory_hub(tmp_path: Path, slapd: Slapd) -> AsyncIterator[HubRuntime]:
    async with running_hub(tmp_path / "data", ldap=slapd.settings(GROUPS, recheck_s=RECHECK_S)) as hub:
        admin = await Api.login(hub.url)
        await admin.created("/api/v1/tenants", {"id": TENANT, "name": "Site A"})
        await admin.close()
        yield hub


async def test_a_directory_user_signs_in_with_the_role_and_tenant_of_its_group(directory_hub: HubRuntime) -> None:
    hub = directory_hub
    answer = await sign_in(hub, "dora", password("dora"))
    assert answer.status_code == 200, answer.text
    # A directory user's token lives at most ldap.recheck_s: its groups are asked again at the next sign-in.
    assert answer.json()["expires_in"] == RECHECK_S
    dora = await as_user(hub, "dora", password("dora"))
    try:
        assert (await dora.http.get("/api/v1/auth/me")).json() == {"username": "dora", "role": "user", "tenant": TENANT}
        device = await dora.create_device("dora-sensor")
        assert device["tenant"] == TENANT
        listed = (await dora.http.get("/api/v1/devices")).json()["items"]
        assert [d["id"] for d in listed] == ["dora-sensor"]
    finally:
        await dora.close()
    # Usernames from the directory are case-insensitive: one user, recorded in lower case.
    upper = await as_user(hub, "DORA", password("dora"))
    try:
        assert (await upper.http.get("/api/v1/auth/me")).json()["username"] == "dora"
    finally:
        await upper.close()
    expected = {"olga": ("admin", TENANT), "pat": ("admin", None)}  # pat is in a user group too: admin wins
    for uid, (role, tenant) in expected.items():
        api = await as_user(hub, uid, password(uid))
        try:
            me = (await api.http.get("/api/v1/auth/me")).json()
            assert (me["role"], me["tenant"]) == (role, tenant)
        finally:
            await api.close()
    admin = await Api.login(hub.url)
    try:
        users = {u["username"]: u for u in (await admin.http.get("/api/v1/users")).json()["items"]}
    finally:
        await admin.close()
    assert users["admin"]["source"] == "local"
    assert {name: (u["role"], u["tenant"], u["source"]) for name, u in users.items() if name != "admin"} == {
        "dora": ("user", TENANT, "ldap"),
        "olga": ("admin", TENANT, "ldap"),
        "pat": ("admin", None, "ldap"),
    }


async def test_wrong_password_unmapped_unknown_and_injected_names_get_the_same_401(directory_hub: HubRuntime) -> None:
    hub = directory_hub
    attempts = [
        ("dora", "not-her-password"),
        ("uma", password("uma")),  # the right password, but only in a group the hub does not map
        ("nobody", "whatever"),
        # Escaped as RFC 4515 asks, these are names nobody has, not filters that match everyone.
        ("*)(uid=*", password("dora")),
        ("*", password("dora")),
        ("dora)(|(uid=*", password("dora")),
    ]
    bodies = []
    for username, secret in attempts:
        answer = await sign_in(hub, username, secret)
        assert answer.status_code == 401, (username, answer.text)
        bodies.append(answer.json())
    assert all(body == bodies[0] for body in bodies), bodies
    assert bodies[0]["error"]["code"] == "unauthorized"
    # Each refusal is in the audit trail under the name tried, and a directory user's sign-in too.
    assert (await sign_in(hub, "dora", password("dora"))).status_code == 200
    admin = await Api.login(hub.url)
    try:

        async def recorded() -> dict[str, list[str]] | None:
            items = (await admin.http.get("/api/v1/audit", params={"action": "auth.", "limit": 100})).json()["items"]
            seen: dict[str, list[str]] = {}
            for item in items:
                seen.setdefault(item["action"], []).append(item["actor"]["id"])
            return seen if len(seen.get("auth.sign_in_failed", [])) >= len(attempts) else None

        seen = await eventually(recorded, what="the refused sign-ins in the audit trail")
        assert sorted(seen["auth.sign_in_failed"]) == sorted(username.lower() for username, _ in attempts)
        assert "dora" in seen["auth.sign_in"]
    finally:
        await admin.close()


async def test_leaving_a_group_takes_effect_at_the_next_sign_in(directory_hub: HubRuntime, slapd: Slapd) -> None:
    hub = directory_hub
    rita = await as_user(hub, "rita", password("rita"))
    try:
        await asyncio.to_thread(slapd.remove_member, "site-a-users", "rita")
        try:
            assert (await sign_in(hub, "rita", password("rita"))).status_code == 401
        finally:
            await asyncio.to_thread(slapd.add_member, "site-a-users", "rita")
        assert (await sign_in(hub, "rita", password("rita"))).status_code == 200
        assert (await rita.http.get("/api/v1/auth/me")).status_code == 200  # same groups: earlier tokens stay good
        # Another role from the directory: the new sign-in raises her token version, so older tokens stop at once.
        await asyncio.to_thread(slapd.add_member, "site-a-admins", "rita")
        try:
            promoted = await as_user(hub, "rita", password("rita"))
            try:
                assert (await promoted.http.get("/api/v1/auth/me")).json()["role"] == "admin"
            finally:
                await promoted.close()
            assert (await rita.http.get("/api/v1/auth/me")).status_code == 401
        finally:
            await asyncio.to_thread(slapd.remove_member, "site-a-admins", "rita")
    finally:
        await rita.close()


async def test_a_local_user_of_the_same_name_wins(directory_hub: HubRuntime) -> None:
    hub = directory_hub
    admin = await Api.login(hub.url)
    try:
        local_password = "lena-local-password"
        await admin.created(
            "/api/v1/users", {"username": "lena", "password": local_password, "role": "user", "tenant": TENANT}
        )
        assert (await sign_in(hub, "lena", password("lena"))).status_code == 401  # the directory is not asked
        assert (await sign_in(hub, "lena", local_password)).status_code == 200
        lena = (await admin.http.get("/api/v1/users/lena")).json()
        assert lena["source"] == "local"
        # A directory user's password and role live in the directory.
        ivan = await as_user(hub, "ivan", password("ivan"))
        await ivan.close()
        await admin.refused("PATCH", "/api/v1/users/ivan", 422, {"role": "admin"})
        # Deleting a directory user revokes its tokens; it is recorded again at its next sign-in.
        assert (await admin.http.delete("/api/v1/users/ivan")).status_code == 204
        assert (await admin.http.get("/api/v1/users/ivan")).status_code == 404
        assert (await sign_in(hub, "ivan", password("ivan"))).status_code == 200
        assert (await admin.http.get("/api/v1/users/ivan")).json()["source"] == "ldap"
    finally:
        await admin.close()


async def test_empty_passwords_and_ambiguous_users_are_refused(tmp_path: Path, slapd: Slapd) -> None:
    # An empty password would be an anonymous bind, which slapd accepts; a filter matching two people names nobody.
    settings = slapd.settings(GROUPS, user_filter="(|(uid={username})(uid=olga))")
    async with running_hub(tmp_path / "data", ldap=settings) as hub:
        directory = hub.services.directory
        assert directory is not None
        assert await directory.authenticate("dora", "") is None
        assert await directory.authenticate("dora", password("dora")) is None  # dora and olga: ambiguous
        assert await directory.authenticate("olga", password("olga")) is not None  # olga alone


async def test_the_directory_away_gives_503_quickly_and_local_users_still_sign_in(tmp_path: Path) -> None:
    # A directory of this test's own, killed halfway: the session's one stays up for the others.
    with Slapd(tmp_path / "slapd", {"dora": password("dora")}, {"site-a-users": ["dora"]}) as slapd:
        async with running_hub(tmp_path / "data", ldap=slapd.settings(GROUPS)) as hub:
            assert (await sign_in(hub, "dora", password("dora"))).status_code == 200
            async with httpx.AsyncClient(base_url=hub.url, timeout=20) as client:
                assert (await client.get("/healthz")).json()["directory"] == "ok"
                slapd.kill()
                started = time.monotonic()
                answer = await sign_in(hub, "dora", password("dora"))
                assert time.monotonic() - started < 5
                assert answer.status_code == 503, answer.text
                assert answer.json()["error"]["code"] == "directory_unavailable"
                assert answer.headers["Retry-After"] == "5"
                assert (await sign_in(hub, "admin", ADMIN_PASSWORD)).status_code == 200
                health = await client.get("/healthz")
                assert health.status_code == 200
                assert (health.json()["status"], health.json()["directory"]) == ("degraded", "down")


async def test_groups_known_only_from_member_of_decide_too(tmp_path: Path) -> None:
    # A directory of its own with the memberof overlay: slapd keeps each member's memberOf. The group lies outside
    # ou=groups and the hub has no group_base: only the user's memberOf can tell the hub about it.
    team, secret = "site-a-team", "tess-directory-password"
    with Slapd(tmp_path / "slapd", {"tess": secret}, {}, member_of=True) as slapd:
        await asyncio.to_thread(slapd.add_group, team, ["tess"], TEAM_BASE)
        assert await asyncio.to_thread(slapd.member_of_attribute, "tess") == [group_dn(team, TEAM_BASE)]
        settings = slapd.settings({}, group_base=None)
        settings["groups"] = {group_dn(team, TEAM_BASE): {"role": "user", "tenant": TENANT}}
        async with running_hub(tmp_path / "data", ldap=settings) as hub:
            directory = hub.services.directory
            assert directory is not None
            tess = await directory.authenticate("tess", secret)
            assert tess is not None and (tess.role.value, tess.tenant) == ("user", TENANT)
            await asyncio.to_thread(slapd.remove_member, team, "tess", TEAM_BASE)
            assert await directory.authenticate("tess", secret) is None  # memberOf follows the group

"""Login protection on a real hub: a username or an address locked out after too many failures, for a cool-down,
answering alike whether the user exists, and an unknown user costing what a wrong password costs."""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import cloud.identity.users
from cloud.runtime import HubRuntime
from hub.security.passwords import verify_password
from tests.helpers.hub import ADMIN_PASSWORD, Api, running_hub
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)

TOKEN = "/api/v1/auth/token"
SESSION = "/api/v1/auth/session"
PASSWORD = "a-long-password-1"
#: Short settings: a lock lasts a second, so the test sees it end.
LOGIN = {"max_failures": 10, "window_s": 300, "cooldown_s": 1.0, "max_failures_per_address": 1000}


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[HubRuntime]:
    async with running_hub(tmp_path / "data", login=LOGIN) as hub:
        yield hub


async def sign_in(client: httpx.AsyncClient, username: str, password: str, address: str) -> httpx.Response:
    # The test client connects from 127.0.0.1, a proxy the hub's server trusts: X-Forwarded-For names the client.
    headers = {"X-Forwarded-For": address}
    return await client.post(TOKEN, data={"username": username, "password": password}, headers=headers)


async def add_user(hub: HubRuntime, username: str) -> None:
    admin = await Api.login(hub.url)
    try:
        await admin.created("/api/v1/users", {"username": username, "password": PASSWORD, "tenant": "default"})
    finally:
        await admin.close()


async def lock_out(client: httpx.AsyncClient, username: str, address: str) -> list[httpx.Response]:
    """Ten wrong passwords (each 401), then the eleventh answer."""
    refused = [await sign_in(client, username, "wrong-password-0", address) for _ in range(10)]
    assert [r.status_code for r in refused] == [401] * 10
    return [*refused, await sign_in(client, username, "wrong-password-0", address)]


def _locked(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["Retry-After"]) <= 1 + LOGIN["cooldown_s"]
    body: dict[str, Any] = response.json()
    return body


async def test_the_eleventh_bad_password_locks_the_user_until_the_cool_down_passes(guarded: HubRuntime) -> None:
    await add_user(guarded, "alice")
    async with httpx.AsyncClient(base_url=guarded.url, timeout=20) as client:
        answers = await lock_out(client, "alice", "192.0.2.10")
        assert _locked(answers[-1])["error"]["code"] == "too_many_requests"
        # The right password too, from another address, and through the portal's sign-in as well.
        _locked(await sign_in(client, "alice", PASSWORD, "192.0.2.11"))
        _locked(await client.post(SESSION, json={"username": "alice", "password": PASSWORD}))
        # Case variants are the same user.
        _locked(await sign_in(client, "ALICE", PASSWORD, "192.0.2.11"))
        # Others still sign in.
        assert (await sign_in(client, "admin", ADMIN_PASSWORD, "192.0.2.10")).status_code == 200

        async def signed_in() -> bool:
            return (await sign_in(client, "alice", PASSWORD, "192.0.2.10")).status_code == 200

        await eventually(signed_in, within=10, what="alice signing in after the cool-down")


async def test_an_unknown_user_is_answered_as_a_known_one(guarded: HubRuntime) -> None:
    await add_user(guarded, "alice")
    async with httpx.AsyncClient(base_url=guarded.url, timeout=20) as client:
        known = await lock_out(client, "alice", "192.0.2.20")
        unknown = await lock_out(client, "nobody-here", "192.0.2.21")
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [401] * 10 + [429]
    assert [r.json() for r in known] == [r.json() for r in unknown]
    assert {r.headers["WWW-Authenticate"] for r in known[:10] + unknown[:10]} == {"Bearer"}
    assert abs(int(known[-1].headers["Retry-After"]) - int(unknown[-1].headers["Retry-After"])) <= 1


async def test_too_many_failures_from_one_address_lock_it_whatever_the_username(tmp_path: Path) -> None:
    login = {**LOGIN, "max_failures_per_address": 5}
    async with running_hub(tmp_path / "data", login=login) as hub, httpx.AsyncClient(base_url=hub.url) as client:
        answers = [await sign_in(client, f"user-{i}", "wrong-password-0", "198.51.100.7") for i in range(6)]
        assert [r.status_code for r in answers] == [401] * 5 + [429]
        # Even the admin with its password, from that address; from another it signs in.
        _locked(await sign_in(client, "admin", ADMIN_PASSWORD, "198.51.100.7"))
        assert (await sign_in(client, "admin", ADMIN_PASSWORD, "198.51.100.8")).status_code == 200


async def test_an_unknown_user_costs_a_hash_of_the_hubs_own_work_factor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The honest check is that a hash is verified for a user who does not exist, made with the same work factors
    as the stored users'; the timing is compared too, loosely, on medians with the production work factor."""
    verified: list[str] = []
    real = verify_password

    def spy(password: str, encoded: str) -> bool:
        verified.append(encoded)
        return real(password, encoded)

    monkeypatch.setattr(cloud.identity.users, "verify_password", spy)
    login = {**LOGIN, "max_failures": 1000}
    async with running_hub(tmp_path / "data", login=login, scrypt_n=2**14) as hub:
        await add_user(hub, "alice")
        async with httpx.AsyncClient(base_url=hub.url, timeout=20) as client:
            verified.clear()
            assert (await sign_in(client, "nobody-here", "wrong-password-0", "192.0.2.30")).status_code == 401
            assert verified == [hub.services.users.dummy_hash]
            stored = await hub.services.store.identity.get_user("alice")
            assert stored is not None
            # scrypt$n$r$p$salt$digest: the same cost parameters.
            assert verified[0].split("$")[:4] == stored.password_hash.split("$")[:4] == ["scrypt", "16384", "8", "1"]

            async def timed(username: str) -> float:
                start = time.perf_counter()
                assert (await sign_in(client, username, "wrong-password-0", "192.0.2.31")).status_code == 401
                return time.perf_counter() - start

            wrong, unknown = [], []
            for _ in range(7):
                wrong.append(await timed("alice"))
                unknown.append(await timed("nobody-here"))
    assert statistics.median(unknown) >= 0.5 * statistics.median(wrong)
    assert statistics.median(wrong) >= 0.5 * statistics.median(unknown)

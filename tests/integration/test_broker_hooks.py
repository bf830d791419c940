"""HTTP auth hooks for external brokers: the same credentials, cache, counters and ACL as the embedded broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.runtime import HubRuntime
from contracts.topics import device_may_publish, device_may_subscribe
from tests.helpers.hub import Api, running_hub

pytestmark = pytest.mark.timeout(60)
HOOK_TOKEN = "hook-token-of-enough-length-0123456789"


@pytest.fixture
async def hooked(tmp_path: Path) -> AsyncIterator[HubRuntime]:
    async with running_hub(tmp_path / "data", broker_hook_token=HOOK_TOKEN) as hub:
        yield hub


async def hook(hub: HubRuntime, path: str, body: dict[str, Any], token: str | None = HOOK_TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=hub.url) as client:
        return await client.post(f"/api/v1/broker/{path}", json=body, headers=headers)


async def test_auth_allows_the_right_secret_with_the_device_acl(hooked: HubRuntime, unique_id: str) -> None:
    api = await Api.login(hooked.url)
    try:
        secret = (await api.create_device(unique_id))["credentials"]["password"]
        await api.create_device(f"{unique_id}-other")
        await api.http.patch(f"/api/v1/devices/{unique_id}-other", json={"enabled": False})
    finally:
        await api.close()
    good = (await hook(hooked, "auth", {"username": unique_id, "password": secret, "clientid": unique_id})).json()
    assert good["result"] == "allow" and good["is_superuser"] is False
    rules = [(r["permission"], r["action"], r["topic"]) for r in good["acl"]]
    assert rules[-1] == ("deny", "all", "#")
    for permission, action, topic in rules[:-1]:
        check = device_may_publish if action == "publish" else device_may_subscribe
        assert permission == "allow" and check(unique_id, topic.replace("+/response", "x/response"))
    assert ("allow", "publish", f"devices/{unique_id}/telemetry") in rules
    for body in (
        {"username": unique_id, "password": "wrong", "clientid": unique_id},
        {"username": unique_id, "password": secret, "clientid": "someone-else"},
        {"username": f"{unique_id}-other", "password": "x", "clientid": f"{unique_id}-other"},
        {"username": "ghost", "password": "x"},
        {},
    ):
        assert (await hook(hooked, "auth", body)).json() == {"result": "deny", "is_superuser": False, "acl": []}
    refused = hooked.services.metrics.refusals()
    assert refused["bad_password"] >= 1 and refused["client_id"] >= 1 and refused["unknown_device"] >= 1


async def test_authz_applies_the_topic_acl(hooked: HubRuntime) -> None:
    cases = [
        ("publish", "devices/d1/telemetry", "allow"),
        ("publish", "devices/d2/telemetry", "deny"),
        ("publish", "devices/d1/state/desired", "deny"),
        ("subscribe", "devices/d1/commands/+", "allow"),
        ("subscribe", "devices/+/commands/+", "deny"),
        ("subscribe", "#", "deny"),
    ]
    for action, topic, expected in cases:
        answer = await hook(hooked, "authz", {"username": "d1", "topic": topic, "action": action})
        assert answer.json() == {"result": expected}, (action, topic)


async def test_hooks_need_their_token_and_are_off_by_default(hooked: HubRuntime, hub: HubRuntime) -> None:
    assert (await hook(hooked, "auth", {}, token=None)).status_code == 401
    assert (await hook(hooked, "auth", {}, token="wrong" * 8)).status_code == 401
    assert (await hook(hooked, "authz", {"topic": "t", "action": "nope"})).status_code == 422
    assert (await hook(hub, "auth", {}, token=HOOK_TOKEN)).status_code == 404

"""Device authentication and ACL through the real embedded broker with real paho clients."""

from __future__ import annotations

import asyncio

import pytest

from cloud.runtime import HubRuntime
from tests.helpers.hub import Api
from tests.helpers.mqtt import TestDevice
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)


def refused(hub: HubRuntime, reason: str) -> int:
    return hub.services.metrics.refusals()[reason]


async def connect(
    port: int, username: str | None, password: str | None, *, client_id: str | None = None, expect_success: bool = True
) -> TestDevice:
    device = TestDevice(port, username, password, client_id)
    return await asyncio.to_thread(device.connect, expect_success=expect_success)


async def test_right_credentials_connect_and_mark_online(hub: HubRuntime, api: Api, unique_id: str) -> None:
    created = await api.create_device(unique_id)
    creds = created["credentials"]
    assert creds["username"] == unique_id and len(creds["password"]) >= 32
    device = await connect(hub.mqtt_port, creds["username"], creds["password"])
    try:

        async def online() -> bool:
            r = await api.http.get(f"/api/v1/devices/{unique_id}")
            return bool(r.json()["status"] == "online")

        await eventually(online, what="device online")
    finally:
        await asyncio.to_thread(device.close)

    async def offline() -> bool:
        r = await api.http.get(f"/api/v1/devices/{unique_id}")
        return bool(r.json()["status"] == "offline")

    await eventually(offline, what="device offline after disconnect")


@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [
        ("DEVICE", "wrong-secret", "bad_password"),
        ("nobody-here", "whatever", "unknown_device"),
        (None, None, "no_credentials"),
        ("DEVICE", "", "no_credentials"),
        ("../etc", "x", "unknown_device"),
    ],
)
async def test_bad_credentials_are_refused_and_counted(
    hub: HubRuntime, api: Api, unique_id: str, username: str | None, password: str | None, reason: str
) -> None:
    await api.create_device(unique_id)
    if username == "DEVICE":
        username = unique_id
    before = refused(hub, reason)
    device = await connect(hub.mqtt_port, username, password, client_id=username or "anon", expect_success=False)
    try:
        assert device.refused
        assert refused(hub, reason) == before + 1
    finally:
        await asyncio.to_thread(device.close)


async def test_rotation_refuses_old_secret_and_closes_live_session(hub: HubRuntime, api: Api, unique_id: str) -> None:
    old = (await api.create_device(unique_id))["credentials"]["password"]
    device = await connect(hub.mqtt_port, unique_id, old)
    r = await api.http.post(f"/api/v1/devices/{unique_id}/credentials")
    assert r.status_code == 200
    new = r.json()["password"]
    assert new != old
    assert await asyncio.to_thread(device.disconnected.wait, 10), "live session was not closed on rotation"
    await asyncio.to_thread(device.close)
    stale = await connect(hub.mqtt_port, unique_id, old, expect_success=False)
    assert stale.refused
    await asyncio.to_thread(stale.close)
    fresh = await connect(hub.mqtt_port, unique_id, new)
    await asyncio.to_thread(fresh.close)


async def test_disabling_refuses_and_closes_session_enabling_restores(
    hub: HubRuntime, api: Api, unique_id: str
) -> None:
    secret = (await api.create_device(unique_id))["credentials"]["password"]
    device = await connect(hub.mqtt_port, unique_id, secret)
    r = await api.http.patch(f"/api/v1/devices/{unique_id}", json={"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert await asyncio.to_thread(device.disconnected.wait, 10)
    await asyncio.to_thread(device.close)
    before = refused(hub, "disabled")
    again = await connect(hub.mqtt_port, unique_id, secret, expect_success=False)
    assert again.refused and refused(hub, "disabled") == before + 1
    await asyncio.to_thread(again.close)
    await api.http.patch(f"/api/v1/devices/{unique_id}", json={"enabled": True})
    back = await connect(hub.mqtt_port, unique_id, secret)
    await asyncio.to_thread(back.close)


async def test_deleting_closes_session_and_refuses(hub: HubRuntime, api: Api, unique_id: str) -> None:
    secret = (await api.create_device(unique_id))["credentials"]["password"]
    device = await connect(hub.mqtt_port, unique_id, secret)
    assert (await api.http.delete(f"/api/v1/devices/{unique_id}")).status_code == 204
    assert await asyncio.to_thread(device.disconnected.wait, 10)
    await asyncio.to_thread(device.close)
    gone = await connect(hub.mqtt_port, unique_id, secret, expect_success=False)
    assert gone.refused
    await asyncio.to_thread(gone.close)


async def test_client_id_of_another_device_is_refused(hub: HubRuntime, api: Api, unique_id: str) -> None:
    secret = (await api.create_device(unique_id))["credentials"]["password"]
    await api.create_device(f"{unique_id}-b")
    before = refused(hub, "client_id")
    impostor = await connect(hub.mqtt_port, unique_id, secret, client_id=f"{unique_id}-b", expect_success=False)
    assert impostor.refused and refused(hub, "client_id") == before + 1
    await asyncio.to_thread(impostor.close)
    suffixed = await connect(hub.mqtt_port, unique_id, secret, client_id=f"{unique_id}:worker")
    await asyncio.to_thread(suffixed.close)


async def test_publish_outside_own_prefix_is_dropped_and_counted(hub: HubRuntime, api: Api, unique_id: str) -> None:
    secret = (await api.create_device(unique_id))["credentials"]["password"]
    victim = f"{unique_id}-victim"
    await api.create_device(victim)
    device = await connect(hub.mqtt_port, unique_id, secret)
    try:
        before = refused(hub, "acl_publish")
        for topic in (
            f"devices/{victim}/telemetry",
            f"devices/{unique_id}/commands/reboot",
            "other/topic",
            f"devices/{unique_id}/state/desired",
        ):
            await asyncio.to_thread(device.publish, topic, b'{"values": {"x": 1}}')
        # A message the ACL allows, sent after the refused ones, proves the refused ones were processed.
        await asyncio.to_thread(device.publish, f"devices/{unique_id}/telemetry", b'{"values": {"ok": 1}}')

        async def own_stored() -> bool:
            r = await api.http.get(f"/api/v1/devices/{unique_id}/latest")
            return "ok" in r.json()["values"]

        await eventually(own_stored, what="allowed message stored")
        assert refused(hub, "acl_publish") == before + 4
        victim_latest = (await api.http.get(f"/api/v1/devices/{victim}/latest")).json()
        assert victim_latest["values"] == {}
    finally:
        await asyncio.to_thread(device.close)


async def test_subscribe_acl(hub: HubRuntime, api: Api, unique_id: str) -> None:
    secret = (await api.create_device(unique_id))["credentials"]["password"]
    device = await connect(hub.mqtt_port, unique_id, secret)
    try:
        before = refused(hub, "acl_subscribe")
        for topic in (
            "#",
            "devices/+/commands/+",
            f"devices/{unique_id}-x/commands/+",
            f"devices/{unique_id}/telemetry",
            "$SYS/#",
        ):
            codes = await asyncio.to_thread(device.subscribe, topic)
            assert codes[0].is_failure, f"subscription to {topic} was granted"
        assert refused(hub, "acl_subscribe") >= before + 4
        for topic in (f"devices/{unique_id}/commands/+", f"devices/{unique_id}/state/desired"):
            codes = await asyncio.to_thread(device.subscribe, topic)
            assert not codes[0].is_failure, f"own downlink {topic} refused"
    finally:
        await asyncio.to_thread(device.close)

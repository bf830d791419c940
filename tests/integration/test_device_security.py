"""Device authentication and ACL with real paho clients, against both brokers.

The same tests run on the embedded broker and on a managed Mosquitto whose dynamic security
accounts the hub keeps in step. Only the embedded broker reports its refusals to the hub, so
the refusal counters are checked there alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from cloud.runtime import HubRuntime
from tests.helpers.hub import Api
from tests.helpers.mqtt import TestDevice
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def hub(each_broker_hub: HubRuntime) -> HubRuntime:
    """Every test here runs on both brokers."""
    return each_broker_hub


#: What a managed Mosquitto counts: each refused CONNECT, under one reason (its log does not say which).
_CONNECT_REFUSALS = {"no_credentials", "unknown_device", "bad_password", "disabled", "client_id"}


class Refusals:
    """Counts the hub's refusals of one reason: by reason on the embedded broker; on Mosquitto the refused
    connections, under ``broker`` (refused publishes and subscriptions are not reported there).
    """

    def __init__(self, hub: HubRuntime, reason: str) -> None:
        embedded = hub.settings.broker == "embedded"
        self._hub = hub
        self._reason = reason if embedded else "broker" if reason in _CONNECT_REFUSALS else None
        self._before = self._now()

    def _now(self) -> int:
        return 0 if self._reason is None else self._hub.services.metrics.refusals()[self._reason]

    async def assert_counted(self, at_least: int = 1, *, exactly: bool = True) -> None:
        if self._reason is None:
            return

        async def added() -> int:
            # Mosquitto's refusals reach the hub through its log, a moment after the CONNACK.
            return self._now() - self._before

        await eventually(lambda: _at_least(added, at_least), what=f"{at_least} {self._reason} refusals counted")
        count = await added()
        assert count == at_least if exactly else count >= at_least, f"{self._reason}: {count} counted"


async def _at_least(count: Callable[[], Awaitable[int]], wanted: int) -> bool:
    return await count() >= wanted


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
    counted = Refusals(hub, reason)
    device = await connect(hub.mqtt_port, username, password, client_id=username or "anon", expect_success=False)
    try:
        assert device.refused
        await counted.assert_counted()
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
    counted = Refusals(hub, "disabled")
    again = await connect(hub.mqtt_port, unique_id, secret, expect_success=False)
    assert again.refused
    await counted.assert_counted()
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
    counted = Refusals(hub, "client_id")
    impostor = await connect(hub.mqtt_port, unique_id, secret, client_id=f"{unique_id}-b", expect_success=False)
    assert impostor.refused
    await counted.assert_counted()
    await asyncio.to_thread(impostor.close)
    # The embedded broker also takes "<device id>:<suffix>"; Mosquitto's plugin only the exact id.
    embedded = hub.settings.broker == "embedded"
    suffixed = await connect(hub.mqtt_port, unique_id, secret, client_id=f"{unique_id}:worker", expect_success=embedded)
    assert suffixed.refused is not embedded
    await asyncio.to_thread(suffixed.close)


async def test_publish_outside_own_prefix_is_dropped_and_counted(hub: HubRuntime, api: Api, unique_id: str) -> None:
    secret = (await api.create_device(unique_id))["credentials"]["password"]
    victim = f"{unique_id}-victim"
    await api.create_device(victim)
    device = await connect(hub.mqtt_port, unique_id, secret)
    try:
        counted = Refusals(hub, "acl_publish")
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
        await counted.assert_counted(4)
        victim_latest = (await api.http.get(f"/api/v1/devices/{victim}/latest")).json()
        assert victim_latest["values"] == {}
    finally:
        await asyncio.to_thread(device.close)


async def test_subscribe_acl(hub: HubRuntime, api: Api, unique_id: str) -> None:
    secret = (await api.create_device(unique_id))["credentials"]["password"]
    device = await connect(hub.mqtt_port, unique_id, secret)
    try:
        counted = Refusals(hub, "acl_subscribe")
        for topic in (
            "#",
            "devices/+/commands/+",
            f"devices/{unique_id}-x/commands/+",
            f"devices/{unique_id}/telemetry",
            "$SYS/#",
        ):
            codes = await asyncio.to_thread(device.subscribe, topic)
            assert codes[0].is_failure, f"subscription to {topic} was granted"
        await counted.assert_counted(4, exactly=False)
        for topic in (f"devices/{unique_id}/commands/+", f"devices/{unique_id}/state/desired"):
            codes = await asyncio.to_thread(device.subscribe, topic)
            assert not codes[0].is_failure, f"own downlink {topic} refused"
    finally:
        await asyncio.to_thread(device.close)

"""``POST /api/v1/devices/batch``: devices registered all or none, refusals that say why, accounts on both brokers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cloud.runtime import HubRuntime
from contracts.devices import MAX_DEVICE_BATCH
from tests.helpers.hub import Api
from tests.helpers.mqtt import TestDevice

pytestmark = pytest.mark.timeout(90)
BATCH = "/api/v1/devices/batch"


def specs(prefix: str, count: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}-{n}", "name": f"{prefix} {n}", **extra} for n in range(count)]


async def registered(api: Api, prefix: str) -> list[str]:
    r = await api.http.get("/api/v1/devices", params={"q": prefix, "limit": 1000})
    assert r.status_code == 200, r.text
    return [device["id"] for device in r.json()["items"]]


async def total(api: Api) -> int:
    r = await api.http.get("/api/v1/devices", params={"limit": 1})
    assert r.status_code == 200, r.text
    count: int = r.json()["total"]
    return count


async def test_a_batch_registers_every_device_with_working_credentials_on_both_brokers(
    each_broker_hub: HubRuntime, unique_id: str
) -> None:
    api = await Api.login(each_broker_hub.url)
    try:
        body = {"devices": specs(unique_id, 3, labels={"site": "north"}, kind="gateway")}
        created = (await api.created(BATCH, body))["devices"]
        assert [d["id"] for d in created] == [f"{unique_id}-{n}" for n in range(3)]
        assert all(d["labels"] == {"site": "north"} and d["kind"] == "gateway" for d in created)
        assert len({d["credentials"]["password"] for d in created}) == 3
        assert sorted(await registered(api, unique_id)) == sorted(d["id"] for d in created)
        for d in created:
            creds = d["credentials"]
            device = TestDevice(each_broker_hub.mqtt_port, creds["username"], creds["password"])
            await asyncio.to_thread(device.connect)
            await asyncio.to_thread(device.close)
    finally:
        await api.close()


@pytest.mark.parametrize(
    ("devices", "status", "says"),
    [
        ([{"id": "twice", "name": "a"}, {"id": "once", "name": "b"}, {"id": "twice", "name": "c"}], 422, "twice"),
        ([{"id": "ok-1", "name": "a"}, {"id": "Not A Valid Id!", "name": "b"}], 422, "devices.1.id"),
        ([{"id": "ok-2", "name": "a", "tenant": "default"}], 422, "names its tenant once"),
        ([{"id": "ok-3", "name": "a", "profile": "no-such-profile"}], 422, "no-such-profile"),
        ([], 422, "devices"),
    ],
)
async def test_a_refused_batch_says_why_and_registers_nothing(
    api: Api, devices: list[dict[str, Any]], status: int, says: str
) -> None:
    before = await total(api)
    message = await api.refused("POST", BATCH, status, {"devices": devices})
    assert says in message
    assert await total(api) == before


async def test_a_batch_over_the_limit_is_refused(api: Api, unique_id: str) -> None:
    message = await api.refused("POST", BATCH, 422, {"devices": specs(unique_id, MAX_DEVICE_BATCH + 1)})
    assert "devices" in message and str(MAX_DEVICE_BATCH) in message
    assert await registered(api, unique_id) == []


async def test_a_taken_id_refuses_the_whole_batch(api: Api, unique_id: str) -> None:
    await api.create_device(f"{unique_id}-2")
    message = await api.refused("POST", BATCH, 409, {"devices": specs(unique_id, 5)})
    assert f"{unique_id}-2" in message
    # The devices before the taken one were inserted, then taken back; those after it never were.
    assert await registered(api, unique_id) == [f"{unique_id}-2"]


async def test_a_tenant_admin_registers_in_their_own_tenant_only(api: Api, unique_id: str) -> None:
    await api.created("/api/v1/tenants", {"id": f"t{unique_id}", "name": "acme"})
    created = (await api.created(BATCH, {"tenant": f"t{unique_id}", "devices": specs(unique_id, 2)}))["devices"]
    assert {d["tenant"] for d in created} == {f"t{unique_id}"}
    await api.refused("POST", BATCH, 404, {"tenant": "nope", "devices": specs(f"{unique_id}-x", 1)})

"""Node heartbeats through the real broker, and the nodes API."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from cloud.runtime import HubRuntime
from tests.helpers.hub import Api
from tests.helpers.mqtt import TestDevice
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)


def _beat(depth: int, **extra: Any) -> bytes:
    return orjson.dumps(
        {
            "ts": 1_795_000_000_000,
            "agent_version": "0.1.0",
            "uptime_s": 12.5,
            "cpu_temp": 48.2,
            "load1": 0.3,
            "mem_used_pct": 41.0,
            "disk_used_pct": 12.0,
            "spool": {"depth": depth, "oldest_age_s": 3.5, "dropped": 0, "bytes_used": 8192},
            "sensors": [
                {"name": "probe", "driver": "serial", "type": "temperature", "unit": "°C", "location": "kitchen"},
                {"name": "door", "driver": "gpio_in", "type": "contact", "enabled": False, "state": "disabled"},
            ],
            **extra,
        }
    )


async def test_latest_heartbeat_is_kept_per_node(hub: HubRuntime, api: Api, unique_id: str) -> None:
    secret = (await api.create_device(unique_id, kind="gateway"))["credentials"]["password"]
    device = await asyncio.to_thread(TestDevice(hub.mqtt_port, unique_id, secret).connect)
    try:
        topic = f"devices/{unique_id}/heartbeat"
        await asyncio.to_thread(device.publish, topic, _beat(7))
        await asyncio.to_thread(device.publish, topic, _beat(42, future_field="ignored"))

        async def latest_depth() -> dict[str, Any] | None:
            node = (await api.http.get(f"/api/v1/nodes/{unique_id}")).json()
            beat = node["heartbeat"]
            return node if beat and beat["spool"]["depth"] == 42 else None

        node = await eventually(latest_depth, what="the second heartbeat")
        assert node["status"] == "online" and node["heartbeat_at"]
        sensors = {s["name"]: s for s in node["heartbeat"]["sensors"]}
        assert sensors["probe"]["location"] == "kitchen" and sensors["door"]["state"] == "disabled"
        listed = (await api.http.get("/api/v1/nodes")).json()
        assert unique_id in {n["id"] for n in listed["items"]}
    finally:
        await asyncio.to_thread(device.close)


async def connected_gateway(hub: HubRuntime, api: Api, device_id: str) -> TestDevice:
    secret = (await api.create_device(device_id, kind="gateway"))["credentials"]["password"]
    return await asyncio.to_thread(TestDevice(hub.mqtt_port, device_id, secret).connect)


def counter(hub: HubRuntime, name: str) -> float:
    return hub.services.metrics.registry.get_sample_value(name) or 0.0


async def test_bad_heartbeats_are_refused_and_counted(hub: HubRuntime, api: Api, unique_id: str) -> None:
    device = await connected_gateway(hub, api, unique_id)
    topic = f"devices/{unique_id}/heartbeat"

    def refused() -> float:
        return counter(hub, "fieldhub_heartbeats_refused_total")

    try:
        for bad in (b"not json", b"{}", _beat(-1), b"[" + b"0," * 40_000 + b"0]"):
            await asyncio.to_thread(device.publish, topic, bad)

        async def all_counted() -> bool:
            return refused() == 4

        await eventually(all_counted, what="4 refused heartbeats")
        await asyncio.to_thread(device.publish, topic, _beat(1))

        async def stored() -> bool:
            return (await api.http.get(f"/api/v1/nodes/{unique_id}")).json()["heartbeat"] is not None

        await eventually(stored, what="a good heartbeat after the bad ones")
    finally:
        await asyncio.to_thread(device.close)


async def test_nodes_are_gateways_of_the_callers_tenant(hub: HubRuntime, api: Api, unique_id: str) -> None:
    await api.create_device(f"{unique_id}-plain")
    assert (await api.http.get(f"/api/v1/nodes/{unique_id}-plain")).status_code == 404
    tenant = (await api.http.post("/api/v1/tenants", json={"name": "Other"})).json()["id"]
    await api.create_device(f"{unique_id}-gw", kind="gateway", tenant=tenant)
    user = {"username": f"u-{unique_id}", "password": "a-long-password-1", "role": "user", "tenant": "default"}
    assert (await api.http.post("/api/v1/users", json=user)).status_code == 201
    other = await Api.login(hub.url, user["username"], user["password"])
    try:
        assert (await other.http.get(f"/api/v1/nodes/{unique_id}-gw")).status_code == 404
        assert f"{unique_id}-gw" not in {n["id"] for n in (await other.http.get("/api/v1/nodes")).json()["items"]}
    finally:
        await other.close()
    mine = (await api.http.get(f"/api/v1/nodes/{unique_id}-gw")).json()
    assert mine["tenant"] == tenant and mine["heartbeat"] is None


async def test_log_lines_are_kept_and_bad_ones_refused(hub: HubRuntime, api: Api, unique_id: str) -> None:
    device = await connected_gateway(hub, api, unique_id)
    topic = f"devices/{unique_id}/logs"

    def refused() -> float:
        return counter(hub, "fieldhub_node_logs_refused_total")

    try:
        lines = [
            {"ts": 1_795_000_000_000 + i, "level": "INFO", "logger": "agent", "message": f"m{i}"} for i in range(3)
        ]
        await asyncio.to_thread(device.publish, topic, orjson.dumps(lines))
        await asyncio.to_thread(device.publish, topic, orjson.dumps({**lines[0], "message": "single"}))
        for bad in (b"nope", orjson.dumps([{"ts": 1, "level": "LOUD", "message": "x"}])):
            await asyncio.to_thread(device.publish, topic, bad)

        async def kept() -> list[str]:
            r = await api.http.get(f"/api/v1/nodes/{unique_id}/logs", params={"limit": 10})
            messages = [line["message"] for line in r.json()["lines"]]
            return messages if len(messages) == 4 and refused() == 2 else []

        assert await eventually(kept, what="4 kept lines and 2 refusals") == ["m0", "m1", "m2", "single"]
    finally:
        await asyncio.to_thread(device.close)

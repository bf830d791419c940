"""Desired/reported state, commands and the live stream, through the real broker."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import orjson
import pytest

from cloud.runtime import HubRuntime
from contracts.schemas import json_schema
from tests.helpers.hub import Api, connected_device
from tests.helpers.mqtt import TestDevice, answer_commands
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)


async def test_desired_state_is_published_retained_and_versioned(hub: HubRuntime, api: Api, unique_id: str) -> None:
    r = await api.http.put(f"/api/v1/devices/{unique_id}/state/desired", json={"interval": 5})
    assert r.status_code == 404
    device = await connected_device(hub, api=api, device_id=unique_id)
    try:
        r = await api.http.put(f"/api/v1/devices/{unique_id}/state/desired", json={"interval": 5})
        assert r.status_code == 200 and r.json()["version"] == 1
        r = await api.http.put(f"/api/v1/devices/{unique_id}/state/desired", json={"interval": 10, "led": True})
        assert r.json()["version"] == 2
        # Subscribing after the fact still gets the latest, because it is retained.
        await asyncio.to_thread(device.subscribe, f"devices/{unique_id}/state/desired")
        message = await asyncio.to_thread(device.next_message)
        body = orjson.loads(message.payload)
        assert message.retain and body["version"] == 2 and body["state"] == {"interval": 10, "led": True}
        await asyncio.to_thread(device.publish, f"devices/{unique_id}/state/reported", b'{"interval": 10}')
        await asyncio.to_thread(device.publish, f"devices/{unique_id}/state/reported", b"[1, 2]")  # refused

        async def reported() -> dict[str, Any]:
            state: dict[str, Any] = (await api.http.get(f"/api/v1/devices/{unique_id}/state")).json()
            return state if state["reported"] else {}

        state = await eventually(reported, what="reported state stored")
        assert state["reported"]["state"] == {"interval": 10} and state["desired"]["version"] == 2
        big = {"blob": "x" * 70_000}
        assert (await api.http.put(f"/api/v1/devices/{unique_id}/state/desired", json=big)).status_code == 422
        notobj = await api.http.put(f"/api/v1/devices/{unique_id}/state/desired", json=[1, 2])
        assert notobj.status_code == 422
    finally:
        await asyncio.to_thread(device.close)


# A gateway runs the Fieldhub agent: its desired state must be the agent's (contract agent-desired-state).
_REFUSED_FOR_GATEWAYS = [
    ({"interval": 5}, "interval: unknown key; known: sensors, logs, heartbeat, uplink"),
    ({"sensors": {"wave": {"interval": 0.01}}}, "sensors.wave.interval: Input should be greater than or equal to 0.1"),
    ({"sensors": {"wave": {"interval": 90_000}}}, "sensors.wave.interval: Input should be less than or equal to 86400"),
    ({"sensors": {"wave": {"enabled": "no"}}}, "sensors.wave.enabled: Input should be a valid boolean"),
    ({"sensors": {"wave": {"period": 1}}}, "sensors.wave.period: unknown key; known: interval, enabled"),
    ({"sensors": {"a b": {"enabled": True}}}, "sensors.a b: not a sensor name"),
    ({"sensors": ["wave"]}, "sensors: Input should be a valid dictionary"),
    ({"logs": {"level": "TRACE"}}, "logs.level: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
    ({"heartbeat": {"interval_s": 0}}, "heartbeat.interval_s: Input should be greater than or equal to 1"),
]


async def test_a_gateways_desired_state_must_follow_the_agents_contract(
    hub: HubRuntime, api: Api, unique_id: str
) -> None:
    secret = (await api.create_device(unique_id, kind="gateway"))["credentials"]["password"]
    path = f"/api/v1/devices/{unique_id}/state/desired"
    for doc, message in _REFUSED_FOR_GATEWAYS:
        r = await api.http.put(path, json=doc)
        assert r.status_code == 422, (doc, r.text)
        error = r.json()["error"]
        assert error["code"] == "invalid_request" and "agent-desired-state" in error["message"]
        assert message in error["message"], (doc, error["message"])
    several = await api.http.put(path, json={"reboot": True, "sensors": {"wave": {"interval": 0}}})
    details = several.json()["error"]["details"]
    assert {tuple(d["loc"]) for d in details} == {("body", "reboot"), ("body", "sensors", "wave", "interval")}
    assert (await api.http.get(f"/api/v1/devices/{unique_id}/state")).json()["desired"] is None, "nothing stored"

    # Accepted as given (sensor names are the agent's to check), stored and published retained.
    desired = {"sensors": {"wave": {"interval": 0.5}, "any-name": {"enabled": False}}, "logs": {"level": "DEBUG"}}
    r = await api.http.put(path, json=desired)
    assert r.status_code == 200 and r.json()["version"] == 1 and r.json()["state"] == desired
    assert (await api.http.put(path, json={})).json()["version"] == 2
    schema = (await api.http.get("/api/v1/contracts/agent-desired-state")).json()
    assert schema == json_schema("agent-desired-state")
    gateway = await asyncio.to_thread(TestDevice(hub.mqtt_port, unique_id, secret).connect)
    try:
        await asyncio.to_thread(gateway.subscribe, f"devices/{unique_id}/state/desired")
        message = await asyncio.to_thread(gateway.next_message)
        assert message.retain and orjson.loads(message.payload)["state"] == {}
    finally:
        await asyncio.to_thread(gateway.close)


async def test_command_round_trip(hub: HubRuntime, api: Api, unique_id: str) -> None:
    device = await connected_device(hub, api=api, device_id=unique_id)
    stop = threading.Event()
    try:
        codes = await asyncio.to_thread(device.subscribe, f"devices/{unique_id}/commands/+")
        assert not codes[0].is_failure
        worker = threading.Thread(target=answer_commands, args=(device, stop), daemon=True)
        worker.start()
        r = await api.http.post(f"/api/v1/devices/{unique_id}/commands/set-led", json={"params": {"on": True}})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "ok" and r.json()["result"] == {"echo": {"on": True}}
        bad_name = await api.http.post(f"/api/v1/devices/{unique_id}/commands/bad+name", json={})
        assert bad_name.status_code == 422
    finally:
        stop.set()
        await asyncio.to_thread(device.close)


async def test_command_timeout_and_offline(hub: HubRuntime, api: Api, unique_id: str) -> None:
    device = await connected_device(hub, api=api, device_id=unique_id)
    try:
        r = await api.http.post(f"/api/v1/devices/{unique_id}/commands/reboot", json={"timeout_s": 0.3})
        assert r.status_code == 504 and r.json()["error"]["code"] == "command_timeout"
    finally:
        await asyncio.to_thread(device.close)

    async def gone() -> bool:
        return bool((await api.http.get(f"/api/v1/devices/{unique_id}")).json()["status"] == "offline")

    await eventually(gone, what="session closed")
    r = await api.http.post(f"/api/v1/devices/{unique_id}/commands/reboot", json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "device_offline"


async def test_live_stream_delivers_stored_telemetry(hub: HubRuntime, api: Api, unique_id: str) -> None:
    device = await connected_device(hub, api=api, device_id=unique_id)
    token = api.http.headers["Authorization"].split()[1]
    received: list[dict[str, Any]] = []
    try:
        async with api.http.stream(
            "GET", f"/api/v1/devices/{unique_id}/live", params={"access_token": token}, headers={"Authorization": ""}
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()
            assert (await anext(lines)).startswith(": connected")
            await asyncio.to_thread(device.publish, f"devices/{unique_id}/telemetry", b'{"values": {"t": 4.5}}')
            async with asyncio.timeout(10):
                async for line in lines:
                    if line.startswith("data: "):
                        received.append(orjson.loads(line[6:]))
                        break
    finally:
        await asyncio.to_thread(device.close)
    assert received[0]["device_id"] == unique_id
    assert received[0]["readings"][0]["key"] == "t" and received[0]["readings"][0]["value"] == 4.5
    no_token = await api.http.get(f"/api/v1/devices/{unique_id}/live", headers={"Authorization": ""})
    assert no_token.status_code == 401


async def test_a_reading_stored_while_the_live_stream_opens_reaches_it(
    hub: HubRuntime, api: Api, unique_id: str
) -> None:
    # A browser's EventSource is open once the headers arrive, before the hub follows the outbox: a reading stored
    # in between (the first live stream of a process waits for the other processes to append) is still sent.
    device = await connected_device(hub, api=api, device_id=unique_id)
    token = api.http.headers["Authorization"].split()[1]
    try:
        async with api.http.stream(
            "GET", f"/api/v1/devices/{unique_id}/live", params={"access_token": token}, headers={"Authorization": ""}
        ) as response:
            assert response.status_code == 200
            await asyncio.to_thread(device.publish, f"devices/{unique_id}/telemetry", b'{"values": {"early": 1}}')
            received = None
            async with asyncio.timeout(10):
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        received = orjson.loads(line[6:])
                        break
    finally:
        await asyncio.to_thread(device.close)
    assert received is not None and received["readings"][0]["key"] == "early"

"""Ingest replicas on a managed Mosquitto: a shared subscription, and a replica killed mid-stream."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest

from cloud.runtime import HubRuntime
from hub.store.telemetry import RangeQuery
from tests.helpers.hub import Api, connected_device, running_hub
from tests.helpers.mqtt import TestDevice, answer_commands
from tests.helpers.process import start_replica
from tests.helpers.waiting import eventually, soon

pytestmark = pytest.mark.timeout(120)
MESSAGES = 4000


def publish_all(device: TestDevice, topic: str, count: int) -> None:
    """QoS 1, many in flight; returns once the broker acknowledged every message."""
    infos = [
        device.client.publish(topic, orjson.dumps({"values": {"n": seq}, "seq": seq}), qos=1) for seq in range(count)
    ]
    for info in infos:
        info.wait_for_publish(60)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS and info.is_published()


async def test_killed_replica_loses_nothing_and_stores_nothing_twice(tmp_path: Path, unique_id: str) -> None:
    data = tmp_path / "data"
    async with running_hub(data, broker="mosquitto") as hub:
        secret = await _registered(hub, unique_id)
        replicas = [await asyncio.to_thread(start_replica, data, hub.mqtt_port, f"r{i}") for i in (1, 2)]
        device = TestDevice(hub.mqtt_port, unique_id, secret)
        device.client.max_inflight_messages_set(100)
        await asyncio.to_thread(device.connect)
        stored = _stored(hub, unique_id)
        try:
            sending = asyncio.create_task(
                asyncio.to_thread(publish_all, device, f"devices/{unique_id}/telemetry", MESSAGES)
            )
            await eventually(lambda: _at_least(stored, MESSAGES // 4), within=60, what="a quarter stored")
            assert not sending.done(), "the stream ended before the replica could be killed"
            killed = replicas[0]
            killed.stop(signal.SIGKILL)
            await sending
            # The broker kept the killed replica's session: it picks up where it died when started again.
            replicas[0] = await asyncio.to_thread(start_replica, data, hub.mqtt_port, "r1")
            values = await eventually(lambda: _at_least(stored, MESSAGES), within=60, what="every message stored")
            assert sorted(values) == list(range(MESSAGES)), "a message is missing or stored twice"
            assert killed.proc.returncode == -signal.SIGKILL
        finally:
            await asyncio.to_thread(device.close)
            for replica in replicas:
                await asyncio.to_thread(replica.stop)


async def test_a_replica_stopped_for_good_hands_its_share_over(
    tmp_path: Path, unique_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Scaled down: the hub (the leader) takes its broker session over, and what the broker routes there is stored."""
    caplog.set_level(logging.INFO, logger="hub.broker.mosquitto.sessions")
    data = tmp_path / "data"
    async with running_hub(data, broker="mosquitto", leader={"ttl_s": 2, "renew_s": 0.5}) as hub:
        secret = await _registered(hub, unique_id)
        replica = await asyncio.to_thread(start_replica, data, hub.mqtt_port, "r1")
        device = TestDevice(hub.mqtt_port, unique_id, secret)
        await asyncio.to_thread(device.connect)
        stored = _stored(hub, unique_id)
        try:
            await asyncio.to_thread(replica.stop)  # a clean stop: its session stays in the group
            await asyncio.to_thread(publish_all, device, f"devices/{unique_id}/telemetry", MESSAGES // 4)
            values = await eventually(lambda: _at_least(stored, MESSAGES // 4), within=30, what="every message stored")
            assert sorted(values) == list(range(MESSAGES // 4)), "a message is missing or stored twice"
            # The takeover ends after the last message it handed on is stored: unsubscribed, the lease forgotten.
            await soon(lambda: "took over the MQTT session fieldhub-r1" in caplog.text, what="the takeover logged")
        finally:
            await asyncio.to_thread(device.close)


async def test_replica_reports_health_and_metrics(tmp_path: Path, unique_id: str) -> None:
    data = tmp_path / "data"
    hub_lifetime = AsyncExitStack()
    hub = await hub_lifetime.enter_async_context(running_hub(data, broker="mosquitto"))
    try:
        api = await Api.login(hub.url)
        secret = (await api.create_device(unique_id))["credentials"]["password"]
        await api.close()
        replica = await asyncio.to_thread(start_replica, data, hub.mqtt_port, "probed", "--probe-port", "0")
    except BaseException:
        await hub_lifetime.aclose()
        raise
    try:
        url = replica.wait_for_line("Health and metrics: ").split()[3].removesuffix("/healthz")
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            assert (await http.get("/healthz")).json() == {"status": "ok", "store": "ok", "broker": "ok"}
            device = TestDevice(hub.mqtt_port, unique_id, secret)
            await asyncio.to_thread(device.connect)
            try:
                # The hub and the replica split the messages: enough for the replica to get some.
                await asyncio.to_thread(publish_all, device, f"devices/{unique_id}/telemetry", 200)
            finally:
                await asyncio.to_thread(device.close)

            async def replica_ingested() -> bool:
                text = (await http.get("/metrics")).text
                line = next(x for x in text.splitlines() if x.startswith("fieldhub_ingest_messages_total"))
                return float(line.split()[1]) > 0

            await eventually(replica_ingested, what="the replica's own ingest counter to move")
            await hub_lifetime.aclose()  # the hub stops its managed broker with it

            async def broker_down() -> bool:
                r = await http.get("/healthz")
                return r.status_code == 503 and r.json()["broker"] == "down"

            await eventually(broker_down, what="the replica to report its broker link down")
    finally:
        await hub_lifetime.aclose()
        await asyncio.to_thread(replica.stop)


async def _registered(hub: HubRuntime, device_id: str) -> str:
    """Register the device through the API; its secret."""
    api = await Api.login(hub.url)
    try:
        return str((await api.create_device(device_id))["credentials"]["password"])
    finally:
        await api.close()


def _stored(hub: HubRuntime, device_id: str) -> Callable[[], Awaitable[list[int]]]:
    """What reads the values of ``n`` the hub's store holds for the device."""
    store = hub.services.store.telemetry

    async def stored() -> list[int]:
        points = await store.query_range(RangeQuery(device_id, "n", limit=MESSAGES * 2))
        return [int(value) for _, value in points]

    return stored


async def _at_least(stored: object, count: int) -> list[int]:
    values: list[int] = await stored()  # type: ignore[operator]
    return values if len(values) >= count else []


async def test_the_live_stream_shows_every_reading_whichever_process_stored_it(tmp_path: Path, unique_id: str) -> None:
    data = tmp_path / "data"
    async with running_hub(data, broker="mosquitto") as hub:
        api = await Api.login(hub.url)
        secret = (await api.create_device(unique_id))["credentials"]["password"]
        token = api.http.headers["Authorization"].split()[1]
        await api.close()
        replica = await asyncio.to_thread(start_replica, data, hub.mqtt_port, "live", "--probe-port", "0")
        device = TestDevice(hub.mqtt_port, unique_id, secret)
        await asyncio.to_thread(device.connect)
        seen: set[int] = set()
        try:
            async with (
                httpx.AsyncClient(base_url=hub.url, timeout=30) as http,
                http.stream("GET", f"/api/v1/devices/{unique_id}/live", params={"access_token": token}) as live,
            ):
                lines = live.aiter_lines()
                assert await anext(lines) == ": connected"
                async with asyncio.timeout(60), asyncio.TaskGroup() as tasks:
                    tasks.create_task(asyncio.to_thread(publish_all, device, f"devices/{unique_id}/telemetry", 400))
                    async for line in lines:
                        if line.startswith("data: "):
                            seen.update(int(r["seq"]) for r in orjson.loads(line.removeprefix("data: "))["readings"])
                        if len(seen) == 400:
                            break
            url = replica.wait_for_line("Health and metrics: ").split()[3].removesuffix("/healthz")
            async with httpx.AsyncClient(base_url=url, timeout=10) as probe:
                metrics = (await probe.get("/metrics")).text
        finally:
            await asyncio.to_thread(device.close)
            await asyncio.to_thread(replica.stop)
    assert seen == set(range(400))
    # The replica took its share of the messages, and the hub's live stream showed those too.
    line = next(x for x in metrics.splitlines() if x.startswith("fieldhub_ingest_messages_total"))
    assert float(line.split()[1]) > 0


async def test_presence_and_command_answers_whichever_process_takes_the_message(tmp_path: Path, unique_id: str) -> None:
    data = tmp_path / "data"
    ids = [f"{unique_id}-{n}" for n in range(6)]
    async with running_hub(data, broker="mosquitto") as hub:
        api = await Api.login(hub.url)
        replica = await asyncio.to_thread(start_replica, data, hub.mqtt_port, "presence")
        devices = []
        stop = threading.Event()
        try:
            for device_id in ids:
                devices.append(await connected_device(hub, device_id, api))

            async def statuses() -> dict[str, str]:
                listed = (await api.http.get("/api/v1/devices", params={"limit": 100})).json()["items"]
                return {d["id"]: d["status"] for d in listed if d["id"] in ids}

            async def all_are(status: str) -> bool:
                return set((await statuses()).values()) == {status} and len(await statuses()) == len(ids)

            # Each device's "online" went to the hub or the replica: the API shows all of them.
            await eventually(lambda: all_are("online"), what="every device online")
            for device in devices:
                assert not (await asyncio.to_thread(device.subscribe, f"devices/{device.client_id}/commands/+"))[
                    0
                ].is_failure
                threading.Thread(target=answer_commands, args=(device, stop), daemon=True).start()
            for device_id in ids:
                r = await api.http.post(f"/api/v1/devices/{device_id}/commands/ping", json={"params": {"n": 1}})
                assert r.status_code == 200 and r.json()["result"] == {"echo": {"n": 1}}, r.text
            # Half lose their connection (the broker sends their last will), half leave cleanly.
            for device in devices[:3]:
                await asyncio.to_thread(device.drop)
            for device in devices[3:]:
                await asyncio.to_thread(device.close)
            await eventually(lambda: all_are("offline"), within=30, what="every device offline")
            r = await api.http.post(f"/api/v1/devices/{ids[0]}/commands/ping", json={})
            assert r.status_code == 409 and r.json()["error"]["code"] == "device_offline"
        finally:
            stop.set()
            await api.close()
            await asyncio.to_thread(replica.stop)

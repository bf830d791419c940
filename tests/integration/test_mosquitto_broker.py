"""The hub on Mosquitto: an external broker brought in step at start, refusals when it is down, MQTT 5 devices."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contracts.devices import DeviceStatus
from contracts.messages import status_payload
from contracts.topics import status_topic
from hub.store.registry import DeviceSecret
from tests.helpers.hub import Api, running_hub
from tests.helpers.mosquitto import SERVICE_PASSWORD, SERVICE_USER, ExternalMosquitto
from tests.helpers.mqtt import TestDevice
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(90)


def external(broker: ExternalMosquitto) -> dict[str, Any]:
    return {
        "broker": f"mqtt://127.0.0.1:{broker.port}",
        "mosquitto": {"username": SERVICE_USER, "password": SERVICE_PASSWORD},
    }


async def connects(port: int, device_id: str, secret: str) -> bool:
    device = TestDevice(port, device_id, secret)
    try:
        await asyncio.to_thread(device.connect, expect_success=False)
    finally:
        await asyncio.to_thread(device.close)
    return not device.refused


def admin_args(broker: ExternalMosquitto) -> list[str]:
    return ["mosquitto_ctrl", "-h", "127.0.0.1", "-p", str(broker.port), "-u", SERVICE_USER, "-P", SERVICE_PASSWORD]


def broker_clients(broker: ExternalMosquitto) -> set[str]:
    """The plugin's client list, read with Mosquitto's own admin tool."""
    out = subprocess.run(
        [*admin_args(broker), "dynsec", "listClients"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    return set(out.split())


async def test_external_broker_is_reconciled_with_the_registry(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    # A device registered while the hub ran on its embedded broker: the external one never heard of it.
    async with running_hub(data) as hub:
        api = await Api.login(hub.url)
        old_secret = (await api.create_device("old-device"))["credentials"]["password"]
        await api.close()
    broker = ExternalMosquitto(tmp_path / "mosquitto")
    # ...and one the broker knows that the registry does not (deleted while the hub was away).
    broker.start([DeviceSecret("ghost", "default", "unused", enabled=True)])
    try:
        async with running_hub(data, **external(broker)) as hub:
            assert "1 device(s) were missing on the MQTT broker" in caplog.text
            assert broker_clients(broker) == {SERVICE_USER, "old-device"}, "ghost was not removed"
            assert not await connects(broker.port, "old-device", old_secret)
            api = await Api.login(hub.url)
            rotated = (await api.http.post("/api/v1/devices/old-device/credentials")).json()["password"]
            assert await connects(broker.port, "old-device", rotated)

            created = (await api.create_device("new-device"))["credentials"]["password"]
            assert await connects(broker.port, "new-device", created)
            await api.http.patch("/api/v1/devices/new-device", json={"enabled": False})
            assert not await connects(broker.port, "new-device", created)
            await api.close()
            assert broker_clients(broker) == {SERVICE_USER, "old-device", "new-device"}
    finally:
        broker.stop()


async def test_registry_changes_are_refused_while_the_broker_is_down(tmp_path: Path) -> None:
    broker = ExternalMosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        async with running_hub(tmp_path / "data", **external(broker)) as hub:
            api = await Api.login(hub.url)
            secret = (await api.create_device("kept"))["credentials"]["password"]
            broker.stop()
            r = await api.http.post("/api/v1/devices", json={"id": "lost", "name": "lost"})
            assert r.status_code == 503 and "broker" in r.json()["error"]["message"]
            assert (await api.http.get("/api/v1/devices/lost")).status_code == 404
            r = await api.http.delete("/api/v1/devices/kept")
            assert r.status_code == 503
            assert (await api.http.get("/api/v1/devices/kept")).status_code == 200
            broker.start()

            async def back() -> bool:
                return await connects(broker.port, "kept", secret)

            await eventually(back, within=20, what="the device to connect again after the broker restart")
            await api.close()
    finally:
        broker.stop()


async def test_mqtt5_device_publishes_and_answers_commands(tmp_path: Path, unique_id: str) -> None:
    async with running_hub(tmp_path / "data", broker="mosquitto") as hub:
        api = await Api.login(hub.url)
        secret = (await api.create_device(unique_id))["credentials"]["password"]
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique_id, protocol=mqtt.MQTTv5)
        client.username_pw_set(unique_id, secret)
        client.will_set(status_topic(unique_id), status_payload(DeviceStatus.OFFLINE), qos=1, retain=True)
        ready = threading.Event()

        def on_message(c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
            request = orjson.loads(message.payload)
            answer = {"id": request["id"], "status": "ok", "result": {"echo": request["params"]}}
            c.publish(f"{message.topic}/response", orjson.dumps(answer), qos=1)

        client.on_message = on_message
        client.on_subscribe = lambda *_: ready.set()
        client.connect("127.0.0.1", hub.mqtt_port)
        client.loop_start()
        try:
            client.subscribe(f"devices/{unique_id}/commands/+", qos=1)
            assert await asyncio.to_thread(ready.wait, 10)
            # Behind Mosquitto the hub knows a device is online from the device's own status message.
            client.publish(status_topic(unique_id), status_payload(DeviceStatus.ONLINE), qos=1, retain=True)
            info = client.publish(f"devices/{unique_id}/telemetry", b'{"values": {"v5": 5}}', qos=1)
            await asyncio.to_thread(info.wait_for_publish, 10)

            async def stored() -> bool:
                r = await api.http.get(f"/api/v1/devices/{unique_id}/latest")
                return "v5" in r.json()["values"]

            await eventually(stored, what="the MQTT 5 message stored")

            async def online() -> bool:
                return bool((await api.http.get(f"/api/v1/devices/{unique_id}")).json()["status"] == "online")

            await eventually(online, what="the MQTT 5 device online")
            r = await api.http.post(f"/api/v1/devices/{unique_id}/commands/ping", json={"params": {"x": 1}})
            assert r.status_code == 200, r.text
            assert r.json()["result"] == {"echo": {"x": 1}}
        finally:
            client.disconnect()
            client.loop_stop()
            await api.close()


def _mosquitto_pid(conf: Path) -> int:
    """The process running Mosquitto with ``conf``, found in /proc like an operator would with ps."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(conf).encode() in cmdline and cmdline[0].endswith(b"mosquitto"):
            return int(proc.name)
    raise AssertionError(f"no Mosquitto running with {conf}")


async def test_a_managed_broker_that_dies_is_started_again(tmp_path: Path, unique_id: str) -> None:
    data = tmp_path / "data"
    async with running_hub(data, broker="mosquitto") as hub:
        api = await Api.login(hub.url)
        try:
            secret = (await api.create_device(unique_id))["credentials"]["password"]
            assert (await api.http.get("/healthz")).json()["broker"] == "ok"
            conf = data / "mosquitto" / "mosquitto.conf"
            killed = _mosquitto_pid(conf)
            os.kill(killed, signal.SIGKILL)

            async def back() -> bool:
                # The device's account, created live, survived: the plugin saved it to its file.
                try:
                    return await connects(hub.mqtt_port, unique_id, secret)
                except (ConnectionError, AssertionError):
                    # Not listening yet (refused, or reset while the new broker opens its listener); or, on a
                    # free port from the ephemeral range, a connect while nothing listens can meet itself (TCP
                    # self-connect) and never get a CONNACK.
                    return False

            await eventually(back, within=30, what="Mosquitto started again")
            assert _mosquitto_pid(conf) != killed

            async def link_up() -> bool:
                return bool((await api.http.get("/healthz")).json()["broker"] == "ok")

            await eventually(link_up, within=30, what="the hub's link back on the new Mosquitto")
            device = TestDevice(hub.mqtt_port, unique_id, secret)
            await asyncio.to_thread(device.connect)
            try:
                await asyncio.to_thread(device.publish, f"devices/{unique_id}/telemetry", b'{"values": {"after": 1}}')
            finally:
                await asyncio.to_thread(device.close)

            async def stored() -> bool:
                r = await api.http.get(f"/api/v1/devices/{unique_id}/latest")
                return "after" in r.json()["values"]

            await eventually(stored, within=30, what="a message through the restarted broker stored")
        finally:
            await api.close()


async def test_behind_mosquitto_status_is_what_the_device_says(tmp_path: Path, unique_id: str) -> None:
    async with running_hub(tmp_path / "data", broker="mosquitto") as hub:
        api = await Api.login(hub.url)
        secret = (await api.create_device(unique_id))["credentials"]["password"]
        quiet = await asyncio.to_thread(TestDevice(hub.mqtt_port, unique_id, secret, announce=False).connect)
        refused = hub.services.metrics.registry.get_sample_value

        async def status() -> str:
            return str((await api.http.get(f"/api/v1/devices/{unique_id}")).json()["status"])

        try:
            # Telemetry of a device that never says it is online is stored; the device stays offline.
            await asyncio.to_thread(quiet.publish, f"devices/{unique_id}/telemetry", b'{"values": {"q": 1}}')
            await asyncio.to_thread(quiet.publish, f"devices/{unique_id}/status", b"not json")

            async def counted() -> bool:
                return (refused("fieldhub_status_refused_total") or 0) == 1

            await eventually(counted, what="the malformed status message counted")
            assert "q" in (await api.http.get(f"/api/v1/devices/{unique_id}/latest")).json()["values"]
            assert await status() == "offline"
            await asyncio.to_thread(quiet.publish, f"devices/{unique_id}/status", b'{"status": "online"}')

            async def online() -> bool:
                return await status() == "online"

            await eventually(online, what="the device online once it says so")
        finally:
            await asyncio.to_thread(quiet.drop)
            await api.close()

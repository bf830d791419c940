"""Persistence across restarts and graceful shutdown, in-process and as a real ``fieldhub up`` process."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import orjson
import pytest

from tests.helpers.hub import Api, running_hub
from tests.helpers.mqtt import TestDevice
from tests.helpers.process import running_hub_process, start_hub

pytestmark = pytest.mark.timeout(90)


def _burst(device: TestDevice, n: int) -> None:
    """Publish readings 0..n-1 at QoS 1 and wait until the hub acknowledged the last one."""
    last = None
    for i in range(n):
        last = device.client.publish(
            f"devices/{device.client_id}/telemetry", orjson.dumps({"values": {"i": i}, "seq": i}), qos=1
        )
    assert last is not None
    last.wait_for_publish(30)
    assert last.is_published(), "the hub did not acknowledge the burst"


async def test_restart_keeps_devices_credentials_telemetry_and_desired_state(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running_hub(data) as hub:
        api = await Api.login(hub.url)
        secret = (await api.create_device("keeper", labels={"a": "b"}))["credentials"]["password"]
        await api.http.put("/api/v1/devices/keeper/state/desired", json={"interval": 7})
        device = await asyncio.to_thread(TestDevice(hub.mqtt_port, "keeper", secret).connect)
        n = 500
        await asyncio.to_thread(_burst, device, n)
        await api.close()
        # Shut down right after the last acknowledgement: everything acknowledged must be flushed.
    await asyncio.to_thread(device.close)
    async with running_hub(data) as hub:
        api = await Api.login(hub.url)
        try:
            shown = (await api.http.get("/api/v1/devices/keeper")).json()
            assert shown["labels"] == {"a": "b"} and shown["status"] == "offline"
            points = (
                await api.http.get("/api/v1/devices/keeper/telemetry", params={"key": "i", "limit": 10_000})
            ).json()["points"]
            assert [p["value"] for p in points] == [float(i) for i in range(n)]
            again = await asyncio.to_thread(TestDevice(hub.mqtt_port, "keeper", secret).connect)
            try:
                await asyncio.to_thread(again.subscribe, "devices/keeper/state/desired")
                message = await asyncio.to_thread(again.next_message)
                assert orjson.loads(message.payload)["state"] == {"interval": 7}
            finally:
                await asyncio.to_thread(again.close)
        finally:
            await api.close()


async def _burst_then_stop(data: Path, device_id: str, n: int, sig: signal.Signals) -> tuple[int | None, str]:
    """Run ``fieldhub up``, have a device send n acknowledged readings, then send ``sig``."""
    hub = await asyncio.to_thread(start_hub, data)
    try:
        api = await Api.login(hub.url)
        secret = (await api.create_device(device_id))["credentials"]["password"]
        await api.close()
        device = await asyncio.to_thread(TestDevice(hub.mqtt_port, device_id, secret).connect)
        await asyncio.to_thread(_burst, device, n)
    finally:
        output = await asyncio.to_thread(hub.stop, sig)
    await asyncio.to_thread(device.close)
    return hub.proc.returncode, output


async def _stored_after_restart(data: Path, device_id: str) -> list[float]:
    with running_hub_process(data) as again:
        api = await Api.login(again.url)
        try:
            r = await api.http.get(f"/api/v1/devices/{device_id}/telemetry", params={"key": "i", "limit": 1000})
            return [p["value"] for p in r.json()["points"]]
        finally:
            await api.close()


async def test_sigterm_flushes_and_restart_serves_everything(tmp_path: Path) -> None:
    code, output = await _burst_then_stop(tmp_path / "data", "proc-dev", 300, signal.SIGTERM)
    assert code == 0, output
    assert "Traceback" not in output and "flushing accepted messages" in output
    # Flushed before the first process exited: no waiting needed.
    assert await _stored_after_restart(tmp_path / "data", "proc-dev") == [float(i) for i in range(300)]


async def test_kill_9_of_the_hub_loses_nothing_it_acknowledged(tmp_path: Path) -> None:
    # No shutdown at all: the PUBACKs were only sent after the readings were on disk.
    code, _ = await _burst_then_stop(tmp_path / "data", "crash-dev", 300, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert await _stored_after_restart(tmp_path / "data", "crash-dev") == [float(i) for i in range(300)]

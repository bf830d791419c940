"""``fieldhub up --demo`` puts its simulated devices where a first-time user's own devices go."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cloud import demo
from cloud.runtime import HubRuntime
from contracts.devices import DeviceCreate
from hub.registry import DEFAULT_TENANT
from tests.helpers.mqtt import TestDevice
from tests.helpers.process import logged_in, running_hub_process
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.timeout(120)


def test_demo_devices_share_the_tenant_of_the_users_new_devices(tmp_path: Path) -> None:
    with running_hub_process(tmp_path / "demo", "--demo") as hub:
        hub.wait_for_line(f"Demo: 3 simulated devices in tenant '{DEFAULT_TENANT}'")
        with logged_in(hub.url) as http:
            # As the README's tour does: a device of one's own, no tenant named.
            created = http.post("/api/v1/devices", json={"id": "kitchen", "name": "Kitchen probe"})
            assert created.status_code == 201, created.text
            tenant = created.json()["tenant"]
            assert tenant == http.get("/api/v1/devices/greenhouse-1").json()["tenant"] == DEFAULT_TENANT
            listed = http.get("/api/v1/devices", params={"tenant": tenant}).json()["items"]
            assert {d["id"] for d in listed} == {"kitchen", *demo.DEMO_DEVICES}

            def demo_data() -> bool:
                return all(http.get(f"/api/v1/devices/{d}/latest").json()["values"] for d in demo.DEMO_DEVICES)

            assert wait_until(demo_data, 20), "the demo devices stored nothing"


async def test_demo_devices_of_an_earlier_release_move_to_the_default_tenant(hub: HubRuntime) -> None:
    # Earlier releases kept the demo in a tenant "demo"; a demo data dir of theirs is brought in line.
    registry = hub.services.registry
    await registry.ensure_tenant("demo", "Demo farm")
    await registry.create_device(DeviceCreate(id="greenhouse-1", name="Greenhouse 1"), "demo")
    devices = await demo.prepare(hub.services)
    assert {d.device_id for d in devices} == set(demo.DEMO_DEVICES)
    for device_id in demo.DEMO_DEVICES:
        assert (await registry.get(device_id)).tenant == DEFAULT_TENANT
    again = {d.device_id: d.secret for d in await demo.prepare(hub.services)}  # the next start: new secrets only
    for device_id, secret in again.items():
        assert (await registry.get(device_id)).tenant == DEFAULT_TENANT
        await asyncio.to_thread(lambda i=device_id, s=secret: TestDevice(hub.mqtt_port, i, s).connect().close())

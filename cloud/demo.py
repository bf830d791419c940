"""``fieldhub up --demo``: a demo tenant with a few simulated devices publishing real MQTT."""

from __future__ import annotations

from cloud.services import Services
from cloud.simulator import SimDevice
from contracts.devices import DeviceCreate
from hub.errors import Conflict

DEMO_TENANT = "demo"
DEMO_DEVICES = {
    "greenhouse-1": {"site": "north", "zone": "tomatoes"},
    "greenhouse-2": {"site": "north", "zone": "herbs"},
    "cold-room": {"site": "south", "zone": "storage"},
}


async def prepare(services: Services) -> list[SimDevice]:
    """Create the demo tenant and devices if missing; issue fresh secrets for this run."""
    await services.registry.ensure_tenant(DEMO_TENANT, "Demo farm")
    devices = []
    for device_id, labels in DEMO_DEVICES.items():
        try:
            created = await services.registry.create_device(
                DeviceCreate(id=device_id, name=device_id.replace("-", " ").title(), labels=labels), DEMO_TENANT
            )
            secret = created.credentials.password
        except Conflict:
            secret = (await services.registry.rotate(device_id)).password
        devices.append(SimDevice(device_id, secret))
    return devices

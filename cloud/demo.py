"""``fieldhub up --demo``: a few simulated devices publishing real MQTT, beside the user's own.

They live in the ``default`` tenant, where the platform admin's devices go when no tenant is named
(``fieldhub device create``, ``fieldhub sim``, ``POST /api/v1/devices``): a first-time user finds the
demo's devices and their own in one list, and every example of the README works on either.
"""

from __future__ import annotations

from cloud.services import Services
from cloud.simulator import SimDevice
from contracts.devices import DeviceCreate
from hub.errors import Conflict
from hub.registry import DEFAULT_TENANT

TENANT = DEFAULT_TENANT
DEMO_DEVICES = {
    "greenhouse-1": {"site": "north", "zone": "tomatoes"},
    "greenhouse-2": {"site": "north", "zone": "herbs"},
    "cold-room": {"site": "south", "zone": "storage"},
}


async def prepare(services: Services) -> list[SimDevice]:
    """Create the demo devices if missing; issue fresh secrets for this run."""
    registry = services.registry
    devices = []
    for device_id, labels in DEMO_DEVICES.items():
        spec = DeviceCreate(id=device_id, name=device_id.replace("-", " ").title(), labels=labels)
        try:
            secret = (await registry.create_device(spec, TENANT)).credentials.password
        except Conflict:
            if (await registry.get(device_id)).tenant == TENANT:
                secret = (await registry.rotate(device_id)).password
            else:
                # A demo data dir of an earlier release kept these in a tenant "demo" of their own: bring them over.
                await registry.delete(device_id)
                secret = (await registry.create_device(spec, TENANT)).credentials.password
        devices.append(SimDevice(device_id, secret))
    return devices

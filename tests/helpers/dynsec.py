"""The hub's dynamic-security control on a real Mosquitto, over a paho client, with every command it sent."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub.broker.mosquitto.dynsec import RESPONSE_TOPIC, DynsecControl
from tests.helpers.mosquitto import SERVICE_PASSWORD, SERVICE_USER

TIMEOUT = 10.0
#: Commands that only read.
_READS = ("listClients", "listRoles", "listGroups", "getClient", "getRole", "getGroup")


@dataclass
class Admin:
    control: DynsecControl
    sent: list[dict[str, Any]] = field(default_factory=list)

    def changes(self) -> list[tuple[str, str]]:
        """Every command sent that changes the broker: its name and the account it names."""
        return [(c["command"], c.get("username") or c["rolename"]) for c in self.sent if c["command"] not in _READS]


@asynccontextmanager
async def dynsec_admin(port: int) -> AsyncIterator[Admin]:
    """A :class:`DynsecControl` logged in as the hub's service account of :class:`ExternalMosquitto`."""
    loop = asyncio.get_running_loop()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"admin-{uuid.uuid4().hex[:8]}")
    client.username_pw_set(SERVICE_USER, SERVICE_PASSWORD)
    subscribed = threading.Event()
    client.on_connect = lambda c, *_: c.subscribe(RESPONSE_TOPIC, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()

    async def publish(topic: str, payload: bytes) -> None:
        admin.sent += orjson.loads(payload)["commands"]
        client.publish(topic, payload, qos=0)

    admin = Admin(DynsecControl(publish, client.is_connected))

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        loop.call_soon_threadsafe(admin.control.on_response, bytes(message.payload))

    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert await asyncio.to_thread(subscribed.wait, TIMEOUT), "no SUBACK for the control's answers"
        yield admin
    finally:
        client.disconnect()
        client.loop_stop()

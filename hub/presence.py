"""Device online/offline status, kept in the store so that every hub process sees it.

Where it comes from depends on the broker, and is always the protocol's own word:

- The embedded broker runs in the hub process and tells it of every session that starts and ends
  (:class:`SessionPresence`); the hub publishes the status retained on ``devices/{id}/status``.
- Mosquitto tells a client nothing of other clients' sessions. There the device's own status
  message is the source (:class:`ReportedPresence`): a retained ``{"status": "online"}`` when it
  connects, and ``{"status": "offline"}`` as its last will, which the broker publishes when the
  session ends without a clean DISCONNECT (a device that disconnects cleanly says "offline" first).
  Whichever hub process gets the message stores it.
"""

from __future__ import annotations

import logging
from typing import Protocol

import orjson

from contracts.devices import DeviceStatus
from contracts.messages import StatusMessage
from contracts.topics import status_topic
from hub.broker.base import DeviceIdentity, Publisher
from hub.clock import now_ms
from hub.metrics import Metrics
from hub.store.registry import RegistryStore

log = logging.getLogger(__name__)


class Presence(Protocol):
    """Keeps device status from what the broker or the devices say; answers whether one is online."""

    async def connected(self, identity: DeviceIdentity) -> None:
        """The broker says a session of the device started."""

    async def disconnected(self, identity: DeviceIdentity) -> None:
        """The broker says a session of the device ended."""

    async def reported(self, identity: DeviceIdentity, payload: bytes) -> None:
        """The device (or its last will) published on its status topic."""

    async def is_online(self, device_id: str) -> bool:
        """Whether the device is connected, as far as the hub knows."""


class SessionPresence:
    """Counts live sessions per device from the broker's own events; the first makes it online, the last offline."""

    def __init__(self, store: RegistryStore, metrics: Metrics, publisher: Publisher) -> None:
        self._store = store
        self._metrics = metrics
        self._publisher = publisher
        self._sessions: dict[str, int] = {}

    async def reset(self) -> None:
        """At broker start nobody is connected: mark every device offline."""
        self._sessions.clear()
        self._metrics.online.set(0)
        await self._store.reset_statuses()

    async def connected(self, identity: DeviceIdentity) -> None:
        count = self._sessions.get(identity.device_id, 0) + 1
        self._sessions[identity.device_id] = count
        if count == 1:
            self._metrics.online.inc()
            await self._set(identity.device_id, DeviceStatus.ONLINE)

    async def disconnected(self, identity: DeviceIdentity) -> None:
        count = self._sessions.get(identity.device_id, 0) - 1
        if count > 0:
            self._sessions[identity.device_id] = count
            return
        if self._sessions.pop(identity.device_id, None) is not None:
            self._metrics.online.dec()
            await self._set(identity.device_id, DeviceStatus.OFFLINE)

    async def reported(self, identity: DeviceIdentity, payload: bytes) -> None:
        """The broker's view of the session is the truth here: a device's own word is only logged."""
        log.debug("device %s reports its status on %s", identity.device_id, status_topic(identity.device_id))

    async def is_online(self, device_id: str) -> bool:
        return device_id in self._sessions

    async def _set(self, device_id: str, status: DeviceStatus) -> None:
        ts = now_ms()
        await self._store.set_status(device_id, status, ts)
        body = orjson.dumps({"status": status.value, "ts": ts})
        await self._publisher.publish(status_topic(device_id), body, qos=1, retain=True)


class ReportedPresence:
    """Device status from the devices' own status messages and last wills (brokers that say nothing of sessions)."""

    def __init__(self, store: RegistryStore, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics

    async def reset(self) -> None:
        """A broker that just started has no sessions (a managed one starts with the hub)."""
        await self._store.reset_statuses()

    async def connected(self, identity: DeviceIdentity) -> None:
        """Not told by this kind of broker."""

    async def disconnected(self, identity: DeviceIdentity) -> None:
        """Not told by this kind of broker."""

    async def reported(self, identity: DeviceIdentity, payload: bytes) -> None:
        try:
            message = StatusMessage.model_validate_json(payload)
        except ValueError:
            self._metrics.status_refused.inc()
            log.debug("ignoring a malformed status message of %s", identity.device_id)
            return
        await self._store.set_status(identity.device_id, message.status, now_ms())

    async def is_online(self, device_id: str) -> bool:
        device = await self._store.get_device(device_id)
        return device is not None and device.status is DeviceStatus.ONLINE

"""Device online/offline status from broker sessions, kept in the store and published retained."""

from __future__ import annotations

import logging

import orjson

from contracts.devices import DeviceStatus
from contracts.messages import StatusMessage
from contracts.topics import status_topic
from hub.broker.base import DeviceIdentity, Publisher
from hub.ingest.pipeline import now_ms
from hub.metrics import Metrics
from hub.store.base import Store

log = logging.getLogger(__name__)


class Presence:
    """Counts live sessions per device; the first makes it online, the last offline."""

    def __init__(self, store: Store, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics
        self._sessions: dict[str, int] = {}
        self._publisher: Publisher | None = None

    def attach(self, publisher: Publisher) -> None:
        """Publish retained status through ``publisher`` from now on."""
        self._publisher = publisher

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

    def is_online(self, device_id: str) -> bool:
        """Whether the device has a live session, as far as the broker told this process."""
        return device_id in self._sessions

    async def reported(self, identity: DeviceIdentity, payload: bytes) -> None:
        """A device's own status message (for example a retained "online" at start); logged only.

        The broker's view of the session is the truth: a device cannot mark itself online
        while disconnected, and its last will arrives as a disconnect.
        """
        try:
            message = StatusMessage.model_validate_json(payload)
        except ValueError:
            log.debug("ignoring malformed status message of %s", identity.device_id)
            return
        log.debug("device %s reports %s", identity.device_id, message.status.value)

    async def _set(self, device_id: str, status: DeviceStatus) -> None:
        ts = now_ms()
        await self._store.set_status(device_id, status, ts)
        if self._publisher is not None:
            body = orjson.dumps({"status": status.value, "ts": ts})
            await self._publisher.publish(status_topic(device_id), body, qos=1, retain=True)

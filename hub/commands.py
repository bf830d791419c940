"""Commands: publish a request to a device and wait for its response with the same correlation id."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from contracts.messages import CommandRequest, CommandResponse
from contracts.topics import command_topic
from hub.broker.base import DeviceIdentity, Publisher
from hub.clock import now_ms
from hub.errors import CommandTimeout, DeviceOffline
from hub.metrics import Metrics
from hub.presence import Presence

log = logging.getLogger(__name__)


class CommandBus:
    """Pending command requests of this process, resolved by device responses."""

    def __init__(self, metrics: Metrics, presence: Presence, publisher: Publisher) -> None:
        self._metrics = metrics
        self._presence = presence
        self._publisher = publisher
        self._pending: dict[str, tuple[str, asyncio.Future[CommandResponse]]] = {}

    async def request(self, device_id: str, name: str, params: dict[str, Any], timeout_s: float) -> CommandResponse:
        """Send a command and wait for the answer.

        Raises:
            DeviceOffline: the device has no live session.
            CommandTimeout: no answer within ``timeout_s``.
        """
        if not await self._presence.is_online(device_id):
            self._metrics.commands.labels("offline").inc()
            raise DeviceOffline(f"device {device_id!r} is not connected")
        correlation = secrets.token_hex(12)
        future: asyncio.Future[CommandResponse] = asyncio.get_running_loop().create_future()
        self._pending[correlation] = (device_id, future)
        request = CommandRequest(
            id=correlation, name=name, params=params, ts=now_ms(), timeout_ms=int(timeout_s * 1000)
        )
        try:
            await self._publisher.publish(command_topic(device_id, name), request.model_dump_json().encode(), qos=1)
            async with asyncio.timeout(timeout_s):
                response = await future
        except TimeoutError:
            self._metrics.commands.labels("timeout").inc()
            raise CommandTimeout(f"device {device_id!r} did not answer {name!r} within {timeout_s:g} s") from None
        finally:
            self._pending.pop(correlation, None)
        self._metrics.commands.labels(response.status).inc()
        return response

    async def responded(self, identity: DeviceIdentity, payload: bytes) -> None:
        """Resolve the pending request a response belongs to; others are ignored.

        Every process serving the API subscribes to the responses of all devices (not shared), so the
        one that sent the request gets its answer whichever process the device is served by.
        """
        try:
            response = CommandResponse.model_validate_json(payload)
        except ValueError:
            log.warning("malformed command response from %s", identity.device_id)
            return
        pending = self._pending.get(response.id)
        # A device can only answer its own commands.
        if pending is None or pending[0] != identity.device_id or pending[1].done():
            log.debug("unmatched command response %s from %s", response.id[:32], identity.device_id)
            return
        pending[1].set_result(response)

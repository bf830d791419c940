"""Downlink: commands with responses; desired state goes to :mod:`edge_agent.desired`, apps to the app host."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from contracts.errors import ErrorCode, FieldhubError
from contracts.messages import CommandRequest, CommandResponse
from contracts.topics import InvalidTopic, TopicKind, command_response_topic, parse_topic
from device_drivers.base import DriverError
from edge_agent.sensors import SensorSet, now_ms
from edge_agent.uplink import Uplink

log = logging.getLogger(__name__)
Reload = Callable[[], Awaitable[dict[str, Any]]]


class CommandFailed(FieldhubError):
    """A command that cannot be carried out; the message goes back to the caller."""

    code = ErrorCode.INVALID_REQUEST


class Control:
    """Executes commands and hands desired state on; answers go out through the uplink."""

    def __init__(
        self,
        device_id: str,
        uplink: Uplink,
        sensors: Callable[[], SensorSet],
        reload: Reload,
        *,
        desired: Callable[[bytes], None],
        deployments: Callable[[bytes], None],
    ) -> None:
        self._device_id = device_id
        self._uplink = uplink
        self._sensors = sensors
        self._reload = reload
        self._desired = desired
        self._deployments = deployments

    async def handle(self, topic: str, payload: bytes) -> None:
        try:
            parsed = parse_topic(topic)
        except InvalidTopic:
            return
        if parsed.kind is TopicKind.COMMAND and parsed.name is not None:
            await self._command(parsed.name, payload)
        elif parsed.kind is TopicKind.STATE_DESIRED and payload:
            self._desired(payload)
        elif parsed.kind is TopicKind.DEPLOYMENTS and payload:
            self._deployments(payload)

    async def _command(self, name: str, payload: bytes) -> None:
        try:
            request = CommandRequest.model_validate_json(payload)
        except ValidationError:
            log.warning("ignored a malformed %r command", name)
            return
        try:
            result = await self._execute(name, request.params)
            response = CommandResponse(id=request.id, status="ok", result=result)
        except (CommandFailed, DriverError) as exc:
            response = CommandResponse(id=request.id, status="error", error=str(exc)[:1000])
        log.info("command %s (%s): %s", name, request.id, response.status)
        topic = command_response_topic(self._device_id, name)
        self._uplink.post(topic, response.model_dump_json(exclude_none=True).encode())

    async def _execute(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        if name == "ping":
            return {"ts": now_ms()}
        if name == "write":
            sensor = params.get("sensor")
            runner = self._sensors().runners.get(sensor) if isinstance(sensor, str) else None
            if runner is None:
                raise CommandFailed(f"no sensor {sensor!r}; known: {', '.join(sorted(self._sensors().runners))}")
            if "value" not in params:
                raise CommandFailed("params.value is required")
            await runner.driver.write(params["value"])
            return {"sensor": sensor, "written": params["value"]}
        if name == "reload_config":
            return await self._reload()
        raise CommandFailed(f"unknown command {name!r}; known: ping, write, reload_config")

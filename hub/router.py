"""Routes what devices send to the hub component that owns each topic kind."""

from __future__ import annotations

from contracts.topics import InvalidTopic, TopicKind, parse_topic
from hub.broker.base import DeviceIdentity
from hub.commands import CommandBus
from hub.ingest.pipeline import IngestPipeline
from hub.nodes import NodeService
from hub.presence import Presence
from hub.state import StateService


class InboundRouter:
    """Implements :class:`hub.broker.base.InboundHandler` for every broker adapter."""

    def __init__(
        self,
        pipeline: IngestPipeline,
        presence: Presence,
        state: StateService,
        commands: CommandBus,
        nodes: NodeService,
    ) -> None:
        self._pipeline = pipeline
        self._presence = presence
        self._state = state
        self._commands = commands
        self._nodes = nodes

    async def on_connect(self, identity: DeviceIdentity) -> None:
        await self._presence.connected(identity)

    async def on_disconnect(self, identity: DeviceIdentity) -> None:
        await self._presence.disconnected(identity)

    async def on_message(self, identity: DeviceIdentity, topic: str, payload: bytes, *, stored: bool) -> None:
        try:
            kind = parse_topic(topic).kind
        except InvalidTopic:
            return
        if kind is TopicKind.TELEMETRY:
            await self._pipeline.submit(identity.device_id, identity.tenant, payload, stored=stored)
        elif kind is TopicKind.STATUS:
            await self._presence.reported(identity, payload)
        elif kind is TopicKind.STATE_REPORTED:
            await self._state.reported(identity, payload)
        elif kind is TopicKind.COMMAND_RESPONSE:
            await self._commands.responded(identity, payload)
        elif kind is TopicKind.HEARTBEAT:
            await self._nodes.heartbeat(identity, payload)
        elif kind is TopicKind.LOGS:
            await self._nodes.logs(identity, payload)

"""Routes what devices send to the hub component that owns each topic kind."""

from __future__ import annotations

import logging

from contracts.errors import RejectReason
from contracts.topics import InvalidTopic, TopicKind, parse_topic
from hub.broker.base import DeviceIdentity
from hub.commands import CommandBus
from hub.deploy.instances import InstanceReports
from hub.errors import FieldhubError
from hub.ingest.pipeline import IngestPipeline
from hub.logutil import RateLimit
from hub.metrics import Metrics
from hub.nodes import NodeService
from hub.presence import Presence
from hub.state import StateService

log = logging.getLogger(__name__)


class InboundRouter:
    """Implements :class:`hub.broker.base.InboundHandler` for every broker adapter."""

    def __init__(
        self,
        pipeline: IngestPipeline,
        presence: Presence,
        state: StateService,
        commands: CommandBus,
        nodes: NodeService,
        *,
        apps: InstanceReports,
        metrics: Metrics,
    ) -> None:
        self._metrics = metrics
        self._poison = RateLimit(10.0)
        self._pipeline = pipeline
        self._presence = presence
        self._state = state
        self._commands = commands
        self._nodes = nodes
        self._apps = apps

    async def on_connect(self, identity: DeviceIdentity) -> None:
        await self._presence.connected(identity)

    async def on_disconnect(self, identity: DeviceIdentity) -> None:
        await self._presence.disconnected(identity)

    async def on_message(self, identity: DeviceIdentity, topic: str, payload: bytes, *, stored: bool) -> None:
        """Hand the message to its owner; one whose handling fails for good is refused and counted.

        A message left unacknowledged would come back after every reconnect and hold a slot of the
        broker's in-flight window for good: only an error that may pass (the store is away) leaves
        it with the broker, to be delivered again.
        """
        try:
            await self._dispatch(identity, topic, payload, stored=stored)
        except FieldhubError as exc:
            if exc.retryable:
                raise
            self._refuse(identity, topic, exc)
        except Exception as exc:  # noqa: BLE001 - a poison message must not stop the device's others
            self._refuse(identity, topic, exc)

    def _refuse(self, identity: DeviceIdentity, topic: str, exc: Exception) -> None:
        self._metrics.rejected_by[RejectReason.UNPROCESSABLE].inc()
        if self._poison.take(identity.device_id)[0]:
            log.error(
                "refused a message of %s on %r that cannot be handled", identity.device_id, topic[:200], exc_info=exc
            )

    async def _dispatch(self, identity: DeviceIdentity, topic: str, payload: bytes, *, stored: bool) -> None:
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
        elif kind is TopicKind.APPS:
            await self._apps.reported(identity, payload)

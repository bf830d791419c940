"""Decisions and hand-offs for the embedded broker, independent of amqtt's plugin mechanics."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from amqtt.contexts import Action
from amqtt.session import Session

from contracts.errors import AuthRefusal
from contracts.topics import client_id_allowed, device_may_publish, device_may_receive, device_may_subscribe
from hub.broker.base import DeviceIdentity, InboundHandler
from hub.broker.gate import Connect
from hub.logutil import RateLimitedLog
from hub.metrics import Metrics
from hub.security.device_auth import AuthRefused, DeviceAuthenticator

log = logging.getLogger(__name__)
_IDENTITY = "fieldhub.identity"


def session_identity(session: Session | None) -> DeviceIdentity | None:
    """The identity the bridge attached to an authenticated session."""
    if session is None:
        return None
    identity: Any = session.attributes.get(_IDENTITY)
    return identity if isinstance(identity, DeviceIdentity) else None


_STOP = object()


class HandoffQueue(asyncio.Queue[Any]):
    """Stands in for an authenticated session's delivery queue.

    amqtt puts every incoming PUBLISH into the session's queue *before* it sends the
    PUBACK, and throws the queue away when the client disconnects. Handing the message
    to the hub inside ``put``, and returning once it is stored, means a QoS 1/2 message
    is acknowledged only when it is on disk (waiting here is backpressure); nothing waits
    in amqtt or in memory to be lost, even if the hub process is killed.
    """

    def __init__(self, bridge: AmqttBridge, session: Session) -> None:
        super().__init__()
        self._bridge = bridge
        self._session = session

    async def put(self, item: Any) -> None:
        await self._bridge.deliver(self._session, item.topic, bytes(item.data), stored=True)

    def put_nowait(self, item: Any) -> None:
        # QoS 0: amqtt cannot wait here, so the message goes through a bounded inbox.
        self._bridge.deliver_later(self._session, item.topic, bytes(item.data))


class AmqttBridge:
    """Authenticates sessions, applies the ACL and forwards connects and messages to the hub.

    Policy for QoS 0 messages when the inbox is full: drop and count (QoS 0 promises nothing).
    """

    def __init__(
        self,
        authenticator: DeviceAuthenticator,
        handler: InboundHandler,
        metrics: Metrics,
        qos0_inbox: int = 10_000,
    ) -> None:
        self._authenticator = authenticator
        self._handler = handler
        self._metrics = metrics
        self._log = RateLimitedLog(log)
        self._inbox: asyncio.Queue[tuple[Session, str, bytes] | object] = asyncio.Queue(maxsize=qos0_inbox)

    async def pump(self) -> None:
        """Deliver QoS 0 messages in arrival order until :meth:`stop_pump` is called."""
        while (item := await self._inbox.get()) is not _STOP:
            assert isinstance(item, tuple)
            # QoS 0 is never acknowledged: queue it for the store without waiting for the write.
            await self.deliver(*item, stored=False)

    async def stop_pump(self) -> None:
        """Let :meth:`pump` finish what is queued, then return."""
        await self._inbox.put(_STOP)

    def deliver_later(self, session: Session, topic: str, payload: bytes) -> None:
        try:
            self._inbox.put_nowait((session, topic, payload))
        except asyncio.QueueFull:
            self._metrics.qos0_dropped.inc()
            self._log.warning("qos0", "QoS 0 inbox full: dropped a message on %r", topic[:200])

    async def deliver(self, session: Session, topic: str, payload: bytes, *, stored: bool) -> None:
        """Apply the publish ACL and hand an allowed message to the hub (``stored``: wait for the write)."""
        identity = session_identity(session)
        if identity is not None and self.allow(session, topic, Action.PUBLISH):
            await self._handler.on_message(identity, topic, payload, stored=stored)

    async def admit(self, connect: Connect) -> DeviceIdentity:
        """The device a CONNECT proves to be; :class:`AuthRefused` (counted) if it proves none.

        A client id is the device's own (see :func:`client_id_allowed`), so only a device's own
        credentials can take its session over.
        """
        identity = await self._authenticator.authenticate(connect.username, connect.password)
        if not client_id_allowed(identity.device_id, connect.client_id):
            self._metrics.auth_refused_by[AuthRefusal.CLIENT_ID].inc()
            self._log.warning(
                f"client_id:{identity.device_id}",
                "refused %s: client id %r is not its own",
                identity.device_id,
                connect.client_id[:64],
            )
            raise AuthRefused(AuthRefusal.CLIENT_ID)
        return identity

    async def authenticate(self, session: Session) -> bool:
        """amqtt's own check, after the gate admitted the connection (a cache hit unless revoked meanwhile)."""
        try:
            identity = await self.admit(Connect(session.client_id or "", session.username, session.password))
        except AuthRefused:
            return False
        session.attributes[_IDENTITY] = identity
        session.delivered_message_queue = HandoffQueue(self, session)
        return True

    def allow(self, session: Session | None, topic: str | None, action: Action | None) -> bool:
        identity = session_identity(session)
        if identity is None or topic is None:
            return False
        device_id = identity.device_id
        if action is Action.PUBLISH:
            allowed, reason = device_may_publish(device_id, topic), AuthRefusal.ACL_PUBLISH
        elif action is Action.SUBSCRIBE:
            allowed, reason = device_may_subscribe(device_id, topic), AuthRefusal.ACL_SUBSCRIBE
        else:
            # RECEIVE: deliveries to subscriptions the ACL already vetted; no extra count.
            return device_may_receive(device_id, topic)
        if not allowed:
            self._metrics.auth_refused_by[reason].inc()
            self._log.warning(f"{reason}:{device_id}", "refused %s of %s on %r", action.value, device_id, topic[:200])
        return allowed

    async def connected(self, session: Session) -> None:
        identity = session_identity(session)
        if identity is not None:
            self._metrics.connections.inc()
            await self._handler.on_connect(identity)

    async def disconnected(self, session: Session) -> None:
        identity = session_identity(session)
        if identity is not None:
            await self._handler.on_disconnect(identity)

"""Decisions and hand-offs for the embedded broker, independent of amqtt's plugin mechanics."""

from __future__ import annotations

import logging
from typing import Any

from amqtt.contexts import Action
from amqtt.session import Session

from contracts.errors import AuthRefusal
from contracts.topics import device_may_publish, device_may_receive, device_may_subscribe
from hub.broker.base import DeviceIdentity, InboundHandler
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


def client_id_allowed(device_id: str, client_id: str | None) -> bool:
    """A device connects as ``{device_id}`` or ``{device_id}:{suffix}``, never as another device.

    Without this rule a device could take over (and read the queued messages of) another
    device's session, because brokers key sessions by client id.
    """
    return client_id == device_id or (client_id or "").startswith(f"{device_id}:")


class AmqttBridge:
    """Authenticates sessions, applies the ACL and forwards connects and messages to the hub."""

    def __init__(
        self,
        authenticator: DeviceAuthenticator,
        handler: InboundHandler,
        metrics: Metrics,
    ) -> None:
        self._authenticator = authenticator
        self._handler = handler
        self._metrics = metrics
        self._log = RateLimitedLog(log)

    async def authenticate(self, session: Session) -> bool:
        try:
            identity = await self._authenticator.authenticate(session.username, session.password)
        except AuthRefused:
            return False
        if not client_id_allowed(identity.device_id, session.client_id):
            self._metrics.auth_refused_by[AuthRefusal.CLIENT_ID].inc()
            self._log.warning(
                f"client_id:{identity.device_id}", "refused %s: client id %r is not its own",
                identity.device_id, (session.client_id or "")[:64],
            )
            return False
        session.attributes[_IDENTITY] = identity
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

    async def received(self, session: Session | None, topic: str, payload: bytes) -> None:
        identity = session_identity(session)
        # amqtt reports messages before its ACL runs; the refusal itself is counted in allow().
        if identity is not None and device_may_publish(identity.device_id, topic):
            await self._handler.on_message(identity, topic, payload)

"""The Fieldhub plugin for the embedded amqtt broker: authentication, ACL and hand-off to the hub.

amqtt builds plugins itself from a dotted class path and a ``Config`` dataclass, so the
collaborators travel in ``Config.bridge`` (an :class:`AmqttBridge` built by the broker adapter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from hub.broker.bridge import AmqttBridge


class FieldhubPlugin(BaseAuthPlugin, BaseTopicPlugin):
    """Delegates every decision to the bridge; keeps no state of its own."""

    @dataclass
    class Config:
        """Plugin settings: the bridge object built by the broker adapter."""

        bridge: Any = None

    @property
    def _bridge(self) -> AmqttBridge:
        bridge: AmqttBridge = self.config.bridge
        return bridge

    async def authenticate(self, *, session: Session) -> bool:
        return await self._bridge.authenticate(session)

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool:
        return self._bridge.allow(session, topic, action)

    async def on_broker_client_connected(self, *, client_id: str, client_session: Session) -> None:
        await self._bridge.connected(client_session)

    async def on_broker_client_disconnected(self, *, client_id: str, client_session: Session) -> None:
        await self._bridge.disconnected(client_session)

"""The embedded broker: amqtt in-process, with the Fieldhub plugin.

amqtt speaks MQTT 3.1.1 only. It acknowledges a QoS 1 publish as soon as the message is
queued in the session, before the hub has seen it, and stock amqtt throws that queue away
when the client disconnects or the broker shuts down. :class:`FieldhubBroker` drains the
queue into the hub first, so every acknowledged message survives a disconnect and a
graceful shutdown; a hard crash of the hub process can still lose what was queued.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Any, Self

from amqtt.broker import Broker
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.session import Session

from hub.broker.bridge import AmqttBridge, session_identity
from hub.errors import ConfigError

log = logging.getLogger(__name__)
_PLUGIN = "hub.broker.amqtt_plugin.FieldhubPlugin"


class FieldhubBroker(Broker):  # type: ignore[misc]
    """amqtt's broker, changed only to hand queued, acknowledged messages over before dropping a session.

    Overrides two internal hooks of the pinned amqtt version; the integration tests that
    publish and disconnect at once (and shut down mid-stream) guard this.
    """

    async def _drain(self, session: Session, handler: BrokerProtocolHandler) -> None:
        queue = session.delivered_message_queue
        while not queue.empty():
            delivered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            delivered.set_result(queue.get_nowait())
            await self._handle_message_delivery(session, handler, delivered)

    async def _handle_disconnect(
        self, client_session: Session, handler: BrokerProtocolHandler, disconnect_waiter: asyncio.Future[Any]
    ) -> None:
        await self._drain(client_session, handler)
        await super()._handle_disconnect(client_session, handler, disconnect_waiter)

    async def _cleanup_session(self, client_id: str) -> None:
        session, handler = self._sessions.get(client_id, (None, None))
        if session is not None and handler is not None:
            await self._drain(session, handler)
        await super()._cleanup_session(client_id)


class EmbeddedBroker:
    """An amqtt broker bound to ``host:port``; implements Publisher and SessionControl."""

    def __init__(self, bridge: AmqttBridge, host: str, port: int, *, max_connections: int = 10_000) -> None:
        self._bridge = bridge
        self._host = host
        self._port = port
        self._max_connections = max_connections
        self._broker: Broker | None = None

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was asked for)."""
        broker = self._running
        # amqtt keeps its asyncio servers in a private map; the pinned version is tested for this.
        server = broker._servers["default"].instance  # noqa: SLF001
        port: int = server.sockets[0].getsockname()[1]
        return port

    @property
    def _running(self) -> Broker:
        if self._broker is None:
            raise RuntimeError("embedded broker is not running")
        return self._broker

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {
                "default": {
                    "type": "tcp",
                    "bind": f"{self._host}:{self._port}",
                    "max_connections": self._max_connections,
                }
            },
            "plugins": {_PLUGIN: {"bridge": self._bridge}},
        }

    async def __aenter__(self) -> Self:
        broker = FieldhubBroker(self._config())
        try:
            await broker.start()
        except Exception as exc:
            raise ConfigError(f"cannot start the MQTT broker on {self._host}:{self._port}: {exc}") from exc
        self._broker = broker
        log.info("embedded MQTT broker listening on %s:%d", self._host, self.port)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        broker, self._broker = self._broker, None
        if broker is None:
            return
        await broker.shutdown()
        # Messages already acknowledged are handed to the hub by plugin events; wait for them.
        await broker.plugins_manager.wait_fired_events()

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        broker = self._running
        if retain:
            await broker.retain_message(None, topic, payload, qos)
        if payload or not retain:
            await broker.internal_message_broadcast(topic, payload, qos)

    def _sessions_of(self, device_id: str) -> list[Any]:
        return [
            handler
            for session, handler in self._running.sessions.values()
            if session.transitions.is_connected()
            and (identity := session_identity(session)) is not None
            and identity.device_id == device_id
        ]

    async def disconnect_device(self, device_id: str) -> int:
        handlers = self._sessions_of(device_id)
        # Same path amqtt takes for a session take-over: the broker's own loop then cleans up.
        await asyncio.gather(*(handler.handle_connection_closed() for handler in handlers))
        return len(handlers)

    def is_connected(self, device_id: str) -> bool:
        return bool(self._sessions_of(device_id))

"""The embedded broker: amqtt in-process, with the Fieldhub plugin.

amqtt speaks MQTT 3.1.1 only; a second listener speaks MQTT over TLS when configured.
Incoming QoS 1/2 messages are handed to the hub, and written to the store, before amqtt
sends the PUBACK (see :class:`hub.broker.bridge.HandoffQueue`): an acknowledged message
survives a disconnect, a shutdown and a crash of the hub process.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from amqtt.broker import Broker

from hub.broker.bridge import AmqttBridge, session_identity
from hub.errors import ConfigError

log = logging.getLogger(__name__)
_PLUGIN = "hub.broker.amqtt_plugin.FieldhubPlugin"


_READER_STOP_TIMEOUT = 5.0


async def _abort(handlers: list[Any]) -> None:
    """Abort the connections of ``handlers`` and wait for their readers to finish.

    The reader sees end-of-stream and amqtt runs its normal cleanup: the last will is
    sent and the disconnect is reported. A PUBLISH the hub had not acknowledged yet is
    sent again by the client when it reconnects.
    """
    for handler in handlers:
        # amqtt's writer adapter closes gracefully, which waits on a client that may not read.
        handler.writer._writer.transport.abort()
    stopped = [
        handler._reader_stopped.wait()
        for handler in handlers
        if handler._reader_task is not None and not handler._reader_task.done()
    ]
    try:
        async with asyncio.timeout(_READER_STOP_TIMEOUT):
            await asyncio.gather(*stopped)
    except TimeoutError:
        log.warning("%d MQTT connections did not close within %.0f s", len(handlers), _READER_STOP_TIMEOUT)


@dataclass(frozen=True, slots=True)
class TlsListener:
    """An MQTT-over-TLS listener beside the plain one (same host, same authentication)."""

    port: int
    certfile: Path
    keyfile: Path


class EmbeddedBroker:
    """An amqtt broker bound to ``host:port``; implements Publisher and SessionControl."""

    def __init__(
        self,
        bridge: AmqttBridge,
        host: str,
        port: int,
        *,
        tls: TlsListener | None = None,
        max_connections: int = 10_000,
    ) -> None:
        self._bridge = bridge
        self._host = host
        self._port = port
        self._tls = tls
        self._max_connections = max_connections
        self._broker: Broker | None = None
        self._tasks: asyncio.TaskGroup | None = None
        self._pump: asyncio.Task[None] | None = None
        self._stopping = False
        self._transports: set[asyncio.WriteTransport] = set()

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was asked for)."""
        return self._bound("default")

    @property
    def tls_port(self) -> int | None:
        """The bound TLS port, if a TLS listener is configured."""
        return None if self._tls is None else self._bound("tls")

    def _bound(self, listener: str) -> int:
        # amqtt keeps its asyncio servers in a private map; the pinned version is tested for this.
        server = self._running._servers[listener].instance
        port: int = server.sockets[0].getsockname()[1]
        return port

    @property
    def _running(self) -> Broker:
        if self._broker is None:
            raise RuntimeError("embedded broker is not running")
        return self._broker

    def _config(self) -> dict[str, Any]:
        listeners: dict[str, Any] = {
            "default": {"type": "tcp", "bind": f"{self._host}:{self._port}", "max_connections": self._max_connections}
        }
        if self._tls is not None:
            listeners["tls"] = {
                "type": "tcp",
                "bind": f"{self._host}:{self._tls.port}",
                "max_connections": self._max_connections,
                "ssl": True,
                "certfile": str(self._tls.certfile),
                "keyfile": str(self._tls.keyfile),
            }
        return {"listeners": listeners, "plugins": {_PLUGIN: {"bridge": self._bridge}}}

    def _track_connections(self, broker: Broker) -> None:
        """Remember every accepted connection, sessions or not yet (a CONNECT still being checked).

        amqtt builds its listeners from ``self.stream_connected``; wrapping it on the instance
        lets shutdown abort connections that never became sessions, which amqtt would leave open.
        """
        connected = broker.stream_connected

        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener_name: str) -> None:
            transport = writer.transport
            self._transports.add(transport)
            try:
                await connected(reader, writer, listener_name=listener_name)
            finally:
                self._transports.discard(transport)

        broker.stream_connected = tracked

    async def __aenter__(self) -> Self:
        broker = Broker(self._config())
        self._track_connections(broker)
        try:
            await broker.start()
        except Exception as exc:
            raise ConfigError(f"cannot start the MQTT broker on {self._host}:{self._port}: {exc}") from exc
        self._broker = broker
        self._tasks = asyncio.TaskGroup()
        await self._tasks.__aenter__()
        self._pump = self._tasks.create_task(self._bridge.pump(), name="mqtt-qos0-pump")
        log.info("embedded MQTT broker listening on %s:%d", self._host, self.port)
        if self._tls is not None:
            log.info("embedded MQTT broker listening for TLS on %s:%d", self._host, self.tls_port)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        broker = self._broker
        if broker is None:
            return
        self._stopping = True
        await self._drop_connections(broker)
        await broker.shutdown()
        self._broker = None
        if self._tasks is None or self._pump is None:
            return
        if exc is None:
            await self._bridge.stop_pump()
        else:
            self._pump.cancel()
        await self._tasks.__aexit__(exc_type, exc, tb)

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        broker = self._running
        if self._stopping:
            # Every connection is gone and retained messages die with the broker: nobody to tell.
            return
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
        await _abort(handlers)
        return len(handlers)

    async def _drop_connections(self, broker: Broker) -> None:
        """Stop listening, then end every connection the way a network failure would.

        Letting amqtt's shutdown cancel the readers instead can hang for good: on Python 3.11
        ``asyncio.wait_for`` may swallow that cancellation and the reader never stops.
        """
        for server in broker._servers.values():
            server.instance.close()
        handlers = [handler for _, handler in broker.sessions.values() if handler.writer is not None]
        await _abort(handlers)
        for transport in list(self._transports):
            # Connections that were not sessions yet (or no longer): abort() is a no-op on closed ones.
            transport.abort()

"""The embedded broker: amqtt in-process, with the Fieldhub plugin.

amqtt speaks MQTT 3.1.1 only; a second listener speaks MQTT over TLS when configured. Every
connection passes Fieldhub's gate (:mod:`hub.broker.gate`) before amqtt sees it.
Incoming QoS 1/2 messages are handed to the hub, and written to the store, before amqtt
sends the PUBACK (see :class:`hub.broker.bridge.HandoffQueue`): an acknowledged message
survives a disconnect, a shutdown and a crash of the hub process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from types import TracebackType
from typing import Any, Self

from amqtt.adapters import ReaderAdapter, WriterAdapter
from amqtt.broker import Broker

from hub.broker.base import TlsListener
from hub.broker.bridge import AmqttBridge
from hub.broker.gate import Gate, GateLimits
from hub.errors import ConfigError
from hub.metrics import Metrics

log = logging.getLogger(__name__)
_PLUGIN = "hub.broker.amqtt_plugin.FieldhubPlugin"
#: How long ending connections may take before shutdown or a revocation goes on without them.
_END_TIMEOUT_S = 5.0


class EmbeddedBroker:
    """An amqtt broker behind Fieldhub's :class:`~hub.broker.gate.Gate` on ``host:port``.

    The listening sockets are the hub's own: amqtt is given "external" listeners and only the
    connections the gate admitted. Implements Publisher and SessionControl.
    """

    def __init__(
        self,
        bridge: AmqttBridge,
        host: str,
        port: int,
        metrics: Metrics,
        limits: GateLimits,
        *,
        tls: TlsListener | None = None,
    ) -> None:
        self._bridge = bridge
        self._host = host
        self._port = port
        self._tls = tls
        self._limits = limits.within_open_files()
        self._gate = Gate(self._limits, bridge.admit, self._serve, metrics)
        self._broker: Broker | None = None
        self._servers: dict[str, asyncio.Server] = {}
        self._tasks: asyncio.TaskGroup | None = None
        self._pump: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was asked for)."""
        return self._bound("default")

    @property
    def tls_port(self) -> int | None:
        """The bound TLS port, if a TLS listener is configured."""
        return None if self._tls is None else self._bound("tls")

    def _bound(self, listener: str) -> int:
        port: int = self._servers[listener].sockets[0].getsockname()[1]
        return port

    @property
    def _running(self) -> Broker:
        if self._broker is None:
            raise RuntimeError("embedded broker is not running")
        return self._broker

    def _config(self) -> dict[str, Any]:
        # "external": amqtt binds nothing and takes connections through external_connected().
        listeners = {name: {"type": "external", "bind": "unused:0"} for name in self._listeners()}
        return {"listeners": listeners, "plugins": {_PLUGIN: {"bridge": self._bridge}}}

    def _listeners(self) -> dict[str, tuple[int, ssl.SSLContext | None]]:
        listeners: dict[str, tuple[int, ssl.SSLContext | None]] = {"default": (self._port, None)}
        if self._tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            try:
                context.load_cert_chain(self._tls.certfile, self._tls.keyfile)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"cannot load the MQTT TLS certificate or key: {exc}") from exc
            listeners["tls"] = (self._tls.port, context)
        return listeners

    async def _serve(self, reader: ReaderAdapter, writer: WriterAdapter, listener: str) -> None:
        await self._running.external_connected(reader, writer, listener)

    async def _listen(self) -> None:
        for name, (port, context) in self._listeners().items():

            async def accepted(r: asyncio.StreamReader, w: asyncio.StreamWriter, name: str = name) -> None:
                await self._gate.handle(r, w, name)

            try:
                self._servers[name] = await asyncio.start_server(
                    accepted,
                    self._host,
                    port,
                    ssl=context,
                    # A TLS handshake that never ends holds a socket like a CONNECT that never comes.
                    ssl_handshake_timeout=self._limits.connect_timeout_s if context else None,
                    backlog=1024,
                )
            except OSError as exc:
                what = "MQTT over TLS" if context else "MQTT"
                raise ConfigError(
                    f"cannot listen for {what} on {self._host}:{port}: {os.strerror(exc.errno) if exc.errno else exc}"
                    " (is another broker running? choose another port with --mqtt-port or mqtts_port)"
                ) from None

    async def __aenter__(self) -> Self:
        broker = Broker(self._config())
        await broker.start()
        self._broker = broker
        try:
            await self._listen()
        except ConfigError:
            await self._close_listeners()
            await broker.shutdown()
            self._broker = None
            raise
        self._tasks = asyncio.TaskGroup()
        await self._tasks.__aenter__()
        self._pump = self._tasks.create_task(self._bridge.pump(), name="mqtt-qos0-pump")
        log.info("embedded MQTT broker listening on %s:%d", self._host, self.port)
        if self._tls is not None:
            log.info("embedded MQTT broker listening for TLS on %s:%d", self._host, self.tls_port)
        return self

    async def _close_listeners(self) -> None:
        for server in self._servers.values():
            server.close()
        self._servers.clear()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        broker = self._broker
        if broker is None:
            return
        self._stopping = True
        # Stop listening, then end every connection the way a network failure would: letting
        # amqtt's shutdown cancel the readers instead can hang for good on Python 3.11.
        await self._close_listeners()
        await self._gate.disconnect_all(_END_TIMEOUT_S)
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

    async def disconnect_device(self, device_id: str) -> int:
        """End every connection of the device now; a PUBLISH not yet acknowledged is sent again later."""
        return await self._gate.disconnect(device_id, _END_TIMEOUT_S)

"""The hub's own MQTT connection to an external broker, bridged into asyncio.

Messages are acknowledged by hand, only after the handler returned: a message is taken off the
broker once the hub has stored it, and one whose handler failed is delivered again after a
reconnect. The session is persistent, so the broker keeps what arrives while the hub is away.

MQTT 3.1.1 on purpose: paho decodes MQTT 5 properties of every incoming message in Python, a
fifth of this link's cost. How many messages the broker sends before an acknowledgement is then
the broker's ``max_inflight_messages`` (the managed broker sets it; see docs/operations.md).
Messages reach the event loop in bursts: one wake-up takes all that arrived meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from hub.errors import ConfigError

log = logging.getLogger(__name__)
Handler = Callable[[str, bytes, int], Awaitable[None]]

_CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker listens and who the hub is on it."""

    host: str
    port: int
    username: str
    password: str
    tls: bool = False
    ca_file: str | None = None

    def __repr__(self) -> str:
        return f"BrokerAddress({self.host}:{self.port}, user={self.username!r})"


class MqttLink:
    """One persistent MQTT session; ``async with`` connects and disconnects.

    ``subscriptions`` are made again on every connect. ``handler(topic, payload, qos)`` runs on
    the event loop, one task per message; the message is acknowledged when it returns.
    ``on_reconnect`` is called on the loop after every connect but the first.
    """

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str,
        subscriptions: list[str],
        handler: Handler,
        on_reconnect: Callable[[], None] | None = None,
    ) -> None:
        self._address = address
        self._on_reconnect = on_reconnect
        self._subscriptions = subscriptions
        self._handler = handler
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected: asyncio.Future[None] | None = None
        self._acks: dict[int, asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._arrived: list[mqtt.MQTTMessage] = []
        self._arrived_lock = threading.Lock()
        self.is_connected = False
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False, manual_ack=True)
        client.username_pw_set(address.username, address.password)
        if address.tls:
            client.tls_set_context(ssl.create_default_context(cafile=address.ca_file))
        client.reconnect_delay_set(1, 5)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        self._client = client

    async def __aenter__(self) -> Self:
        loop = self._loop = asyncio.get_running_loop()
        self._connected = loop.create_future()
        where = f"{self._address.host}:{self._address.port}"
        try:
            self._client.connect(self._address.host, self._address.port, keepalive=30)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot reach the MQTT broker at {where}: {exc}") from exc
        self._client.loop_start()
        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT_S):
                await self._connected
        except BaseException as exc:
            self._client.loop_stop()
            if isinstance(exc, TimeoutError):
                raise ConfigError(f"the MQTT broker at {where} did not answer the connect") from exc
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._tasks and exc is None:
            # Handlers still running will ack; a message whose ack is lost comes back next time.
            await asyncio.wait(self._tasks, timeout=_CONNECT_TIMEOUT_S)
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        for task in self._tasks:
            task.cancel()
        for future in self._acks.values():
            future.cancel()

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publish and, for QoS 1, wait until the broker acknowledged."""
        assert self._loop is not None, "link is not running"
        future = self._loop.create_future()
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            raise ConnectionError(f"publish to the broker refused: {mqtt.error_string(info.rc)}")
        if qos == 0:
            return
        # paho reports the PUBACK through the loop (call_soon_threadsafe), so it cannot overtake this.
        self._acks[info.mid] = future
        await future

    # --- paho's network thread ---------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        if reason.is_failure:
            self._call(self._fail_connect, f"the MQTT broker refused the hub's connection: {reason}")
            return
        if self._subscriptions:
            client.subscribe([(topic, 1) for topic in self._subscriptions])
        self.is_connected = True
        self._call(self._connect_done)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        self.is_connected = False
        if reason.is_failure:
            log.warning("lost the MQTT broker (%s); reconnecting", reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self._arrived_lock:
            self._arrived.append(message)
            if len(self._arrived) > 1:
                return  # the loop has a wake-up pending that takes this one too
        self._call(self._dispatch)

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, _r: Any, _p: Any) -> None:
        self._call(self._published, mid)

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    # --- event loop ------------------------------------------------------------------------------

    def _connect_done(self) -> None:
        if self._connected is not None and not self._connected.done():
            self._connected.set_result(None)
        elif self._on_reconnect is not None:
            self._on_reconnect()
        log.info("connected to the MQTT broker at %s:%d", self._address.host, self._address.port)

    def _fail_connect(self, message: str) -> None:
        if self._connected is not None and not self._connected.done():
            self._connected.set_exception(ConfigError(message))
        else:
            log.error(message)

    def _published(self, mid: int) -> None:
        future = self._acks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(None)

    def _dispatch(self) -> None:
        with self._arrived_lock:
            arrived, self._arrived = self._arrived, []
        loop = asyncio.get_running_loop()
        for message in arrived:
            task = loop.create_task(self._handle(message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handle(self, message: mqtt.MQTTMessage) -> None:
        try:
            await self._handler(message.topic, bytes(message.payload), message.qos)
        except Exception:
            # Not acknowledged: the broker sends it again when the session resumes.
            log.exception("handling a message on %r failed; it stays with the broker", message.topic[:200])
            return
        if message.qos > 0:
            self._client.ack(message.mid, message.qos)

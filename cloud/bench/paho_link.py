"""paho-mqtt 2.x driven from the event loop, as a broker :class:`Link`: here to be measured, not used.

The hub reads Mosquitto through its own client (``hub/broker/mosquitto/link.py``) because paho's
network thread cost more than the ingest behind it. The other way out, the one aiomqtt and Home
Assistant take, keeps paho but runs no thread of its: the loop watches paho's socket (readable:
``loop_read``; writable, while paho has bytes queued: ``loop_write``) and calls ``loop_misc`` once a
second for the keepalive. ``fieldhub bench ingest --broker mosquitto --paho`` runs the same pipeline
on both links, so the choice rests on a figure.

It keeps :class:`MqttLink`'s promises: MQTT 3.1.1, a persistent session, the subscriptions made
again at QoS 1 on every connect, a message acknowledged by hand only once its handler returned
(never one of an earlier connection), a QoS 1 publish that waits for its PUBACK (sent again after a
reconnect, once subscribed), reconnects with backoff and ``on_reconnect`` after each. Unlike
:class:`MqttLink` it never pauses reading: the broker's ``max_inflight_messages`` (1,000 on the
managed broker) bounds the messages in hand.

Where paho's time goes (py-spy, strace): ``loop_read`` takes one packet per call, whatever its
``max_packets`` says, with three ``recv`` calls (type byte, length byte, body), and every PUBACK
leaves in a ``send`` of its own after the writer was registered with the loop again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from hub.broker.mosquitto.link import BrokerAddress, Handler
from hub.errors import ConfigError
from hub.retry import Backoff
from hub.tasks import Background

if TYPE_CHECKING:
    from paho.mqtt.client import SocketLike

log = logging.getLogger(__name__)

_CONNECT_TIMEOUT_S = 10.0
_RECONNECT = Backoff(first_s=1.0, cap_s=5.0)  # as the hub's own link
_MISC_EVERY_S = 1.0


class _Refused(Exception):
    """The broker answered, and said no."""


class PahoLink:
    """One persistent MQTT session through paho on the event loop; ``async with`` connects, disconnects."""

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str,
        subscriptions: list[str],
        handler: Handler,
        on_reconnect: Callable[[], None] | None = None,
        *,
        keepalive_s: int = 30,
    ) -> None:
        self._address = address
        self._subscriptions = subscriptions
        self._handler = handler
        self._on_reconnect = on_reconnect
        self._keepalive_s = keepalive_s
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,  # reconnecting is this link's job, with its own backoff
        )
        client.manual_ack_set(True)
        client.username_pw_set(address.username, address.password)
        if address.tls:
            client.tls_set_context(ssl.create_default_context(cafile=address.ca_file))
        client.connect_timeout = _CONNECT_TIMEOUT_S
        client.enable_logger(log)
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._register_write
        client.on_socket_unregister_write = self._unregister_write
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_message = self._message
        client.on_publish = self._published
        client.on_subscribe = self._subscribed
        self._client = client
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._generation = 0  # connections accepted so far: an ack goes only on the one its message came by
        self._connack: asyncio.Future[ReasonCode] | None = None
        self._suback: tuple[int, asyncio.Future[list[ReasonCode]]] | None = None
        self._waiting: dict[int, asyncio.Future[None]] = {}  # by message id: our QoS 1 publishes, done at PUBACK
        self._held: list[mqtt.MQTTMessage] = []  # our publishes of the last connection, sent again once subscribed
        self._tasks: set[asyncio.Task[None]] = set()
        self._lost = asyncio.Event()
        self._background = Background()
        self._closing = False

    @property
    def is_connected(self) -> bool:
        return self._client.is_connected()

    async def __aenter__(self) -> Self:
        await self._background.open()
        try:
            await self._connect()
        except BaseException as exc:
            await self._background.close()
            if isinstance(exc, OSError | ssl.SSLError):
                raise ConfigError(f"cannot reach the MQTT broker at {self._address}: {exc}") from exc
            if isinstance(exc, _Refused):
                raise ConfigError(str(exc)) from exc
            raise
        self._background.spawn(self._stay_connected(), name="paho-link")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closing = True
        if self._tasks and exc is None:
            # Handlers still running will ack; a message whose ack is lost comes back next time.
            await asyncio.wait(self._tasks, timeout=_CONNECT_TIMEOUT_S)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._background.close()  # the runner
        if self._client.socket() is not None:
            self._lost.clear()
            self._client.disconnect()  # paho closes the socket once the DISCONNECT is written
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_CONNECT_TIMEOUT_S):
                    await self._lost.wait()
        for future in self._waiting.values():
            future.cancel()

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publish; at QoS 1 wait until the broker acknowledged (across reconnects, if need be)."""
        if qos not in (0, 1):
            raise ValueError("the hub's link publishes at QoS 0 or 1")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        # Without a connection paho drops a QoS 0 message, as QoS 0 allows, and keeps a QoS 1 one for the
        # next CONNACK.
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise ConnectionError(f"paho did not take the message for {topic!r}: {mqtt.error_string(info.rc)}")
        if qos == 0:
            return
        acked = self._waiting[info.mid] = self._loop.create_future()
        try:
            await acked
        finally:
            # A reconnect may have sent it again under another message id (see _connected).
            self._waiting = {mid: waiter for mid, waiter in self._waiting.items() if waiter is not acked}

    # --- connecting -------------------------------------------------------------------------------

    async def _connect(self) -> None:
        self._lost.clear()
        self._connack = self._loop.create_future()
        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT_S):
                # Name lookup, TCP and TLS handshake block: in a thread, as aiomqtt and Home Assistant do.
                await asyncio.to_thread(self._client.connect, self._address.host, self._address.port, self._keepalive_s)
                await self._open_session(self._connack)
        except BaseException:
            if self._client.socket() is not None:
                self._client.disconnect()
            raise
        log.info("connected to the MQTT broker at %s (paho)", self._address)

    async def _open_session(self, connack: asyncio.Future[ReasonCode]) -> None:
        address = self._address
        reason = await connack
        if reason.is_failure:
            raise _Refused(f"the MQTT broker at {address} refused the hub's connection: {reason}")
        if self._subscriptions:
            await self._subscribe()
        for message in self._held:
            waiter = self._waiting.pop(message.mid, None)
            info = self._client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
            if waiter is not None:
                self._waiting[info.mid] = waiter
        self._held = []

    async def _subscribe(self) -> None:
        address = self._address
        _, mid = self._client.subscribe([(topic, 1) for topic in self._subscriptions])
        if mid is None:
            raise ConnectionError("the connection was lost before subscribing")
        self._suback = mid, self._loop.create_future()
        codes = await self._suback[1]
        refused = [topic for topic, code in zip(self._subscriptions, codes, strict=False) if code.is_failure]
        if refused:
            raise _Refused(f"the MQTT broker at {address} refused the hub's subscription to {', '.join(refused)}")

    async def _stay_connected(self) -> None:
        """Keepalive once a second; when the connection is lost, connect again until it works."""
        while True:
            try:
                await asyncio.wait_for(self._lost.wait(), _MISC_EVERY_S)
            except TimeoutError:
                self._client.loop_misc()  # pings, and drops a connection whose pings go unanswered
                continue
            if self._closing:
                return
            log.warning("lost the MQTT broker at %s; reconnecting", self._address)
            delays = _RECONNECT.delays()
            while True:
                await asyncio.sleep(next(delays))
                try:
                    await self._connect()
                    break
                except (OSError, TimeoutError, _Refused) as exc:
                    log.warning("reconnecting to the MQTT broker at %s failed: %s", self._address, exc)
            if self._on_reconnect is not None:
                self._on_reconnect()

    # --- paho's socket callbacks: the loop does paho's I/O ------------------------------------------

    def _on_loop(self, call: Callable[[], object]) -> None:
        """Run ``call`` on the loop: paho makes socket callbacks from the connecting thread too."""
        if threading.get_ident() == self._loop_thread:
            call()
        else:
            self._loop.call_soon_threadsafe(call)

    def _socket_open(self, client: mqtt.Client, _: Any, sock: SocketLike) -> None:
        fd = sock.fileno()
        self._on_loop(lambda: self._loop.add_reader(fd, client.loop_read))

    def _socket_close(self, client: mqtt.Client, _: Any, sock: SocketLike) -> None:
        fd = sock.fileno()  # paho closes the socket right after this callback: keep the number now

        def forget() -> None:
            self._loop.remove_reader(fd)
            self._loop.remove_writer(fd)

        self._on_loop(forget)

    def _register_write(self, client: mqtt.Client, _: Any, sock: SocketLike) -> None:
        fd = sock.fileno()
        self._on_loop(lambda: self._loop.add_writer(fd, client.loop_write))

    def _unregister_write(self, client: mqtt.Client, _: Any, sock: SocketLike) -> None:
        fd = sock.fileno()
        self._on_loop(lambda: self._loop.remove_writer(fd))

    # --- paho's protocol callbacks, all made from loop_read/loop_write/loop_misc, on the loop -----------

    def _connected(self, client: mqtt.Client, _: Any, flags: mqtt.ConnectFlags, reason: ReasonCode, *__: Any) -> None:
        if not reason.is_failure:
            self._generation += 1
            # paho would send our unacknowledged publishes right after this callback, before the subscriptions
            # are made again: answers to them (the dynamic security plugin's) would be lost by a broker that lost
            # the session. Taken back here, they go once subscribed, as MqttLink sends them.
            self._held += client.drop_out_messages()
        if self._connack is not None and not self._connack.done():
            self._connack.set_result(reason)

    def _disconnected(
        self, client: mqtt.Client, _: Any, flags: mqtt.DisconnectFlags, reason: ReasonCode, *__: Any
    ) -> None:
        lost = ConnectionError(f"the broker closed the connection ({reason})")
        for waiter in (self._connack, self._suback[1] if self._suback else None):
            if waiter is not None and not waiter.done():
                waiter.set_exception(lost)
        self._lost.set()

    def _message(self, client: mqtt.Client, _: Any, message: mqtt.MQTTMessage) -> None:
        task = self._loop.create_task(self._handle(message, self._generation))  # owned as MqttLink owns its own
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, message: mqtt.MQTTMessage, generation: int) -> None:
        topic = message.topic
        try:
            await self._handler(topic, bytes(message.payload), message.qos)
        except Exception:
            # Not acknowledged: the broker sends it again when the session resumes.
            log.exception("handling a message on %r failed; it stays with the broker", topic[:200])
            return
        if message.qos and generation == self._generation and self._client.is_connected():
            self._client.ack(message.mid, message.qos)

    def _published(self, client: mqtt.Client, _: Any, mid: int, *__: Any) -> None:
        waiter = self._waiting.pop(mid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _subscribed(self, client: mqtt.Client, _: Any, mid: int, codes: list[ReasonCode], *__: Any) -> None:
        suback = self._suback
        if suback is not None and suback[0] == mid and not suback[1].done():
            suback[1].set_result(codes)

"""The hub's own MQTT connection to an external broker, on the event loop.

Messages are acknowledged by hand, only after the handler returned: a message is taken off the
broker once the hub has stored it, and one whose handler failed is delivered again after a
reconnect. The session is persistent, so the broker keeps what arrives while the hub is away.

Why not paho here, as everywhere else: this link carries every device message, and paho's
network thread cost more than the whole ingest behind it (a read call per header byte, a
wake-up byte through a socket pair for every acknowledgement, the interpreter lock passed to and
fro). On the loop, one read takes every packet that arrived, and the acknowledgements of one
loop turn leave in one write. MQTT 3.1.1: how many messages the broker sends before an
acknowledgement is the broker's ``max_inflight_messages`` (the managed broker sets it).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from hub.broker.mosquitto import packets
from hub.broker.mosquitto.packets import Control, Publish
from hub.broker.reasons import describe_connack
from hub.errors import ConfigError
from hub.retry import Backoff
from hub.tasks import Background

log = logging.getLogger(__name__)
Handler = Callable[[str, bytes, int], Awaitable[None]]


_CONNECT_TIMEOUT_S = 10.0
_RECONNECT = Backoff(first_s=1.0, cap_s=5.0)


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

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class Link(Protocol):
    """One persistent MQTT session of the hub with a broker (what :class:`MqttLink` is).

    Built as ``factory(address, client_id, subscriptions, handler, on_reconnect)``; ``handler(topic,
    payload, qos)`` is called once per message, which is acknowledged when it returns.
    """

    @property
    def is_connected(self) -> bool: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None: ...


LinkFactory = Callable[[BrokerAddress, str, list[str], Handler, Callable[[], None] | None], Link]


class _Refused(Exception):
    """The broker answered, and said no."""


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; hands what it reads to the link."""

    def __init__(
        self,
        on_packets: Callable[[_Connection, list[Publish | Control]], None],
        on_lost: Callable[[_Connection], None],
    ) -> None:
        self._on_packets = on_packets
        self._on_lost = on_lost
        self._reader = packets.Reader()
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            received = self._reader.feed(data)
        except packets.ProtocolError as exc:
            log.error("the MQTT broker sent a malformed packet (%s); reconnecting", exc)  # noqa: TRY400
            self.close()
            return
        self._on_packets(self, received)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        self._on_lost(self)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class MqttLink:
    """One persistent MQTT session; ``async with`` connects and disconnects.

    ``subscriptions`` are made again on every connect. ``handler(topic, payload, qos)`` runs on
    the event loop, one task per message; the message is acknowledged when it returns.
    ``on_reconnect`` is called on the loop after every connect but the first. A link made with
    ``reconnect=False`` ends with its first connection (:meth:`wait_lost`): one that takes over the
    session of another process must not take it again once that process is back.
    """

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str,
        subscriptions: list[str],
        handler: Handler,
        on_reconnect: Callable[[], None] | None = None,
        *,
        max_in_hand: int = 5_000,
        keepalive_s: int = 30,
        reconnect: bool = True,
    ) -> None:
        self._address = address
        # Messages handled at once before the link stops reading: bounds a broker with no in-flight limit.
        self._max_in_hand = max_in_hand
        self._keepalive_s = keepalive_s
        self._client_id = client_id
        self._subscriptions = subscriptions
        self._handler = handler
        self._on_reconnect = on_reconnect
        self._reconnects = reconnect
        self._ended = asyncio.Event()
        self._ssl = ssl.create_default_context(cafile=address.ca_file) if address.tls else None
        self._conn: _Connection | None = None
        self._connack: asyncio.Future[int] | None = None
        self._replies: dict[int, asyncio.Future[bytes]] = {}  # by packet id: our (UN)SUBSCRIBEs, done at the ack
        self._waiting: dict[int, asyncio.Future[None]] = {}  # by packet id: our QoS 1 publishes, done at PUBACK
        self._unacked: dict[int, bytes] = {}  # by packet id: their packets, sent again (DUP) after a reconnect
        self._next_id = 0
        self._tasks: set[asyncio.Task[None]] = set()  # the messages in hand
        self._background = Background()
        self._acks = bytearray()
        self._ping_sent: float | None = None
        self._last_sent = 0.0
        self._closing = False
        self._paused = False

    @property
    def is_connected(self) -> bool:
        return self._conn is not None

    async def __aenter__(self) -> Self:
        # Open first: messages the broker kept for the session may arrive while it is being opened.
        await self._background.open()
        try:
            conn = await self._connect()
        except BaseException as exc:
            await self._background.close()
            if isinstance(exc, OSError | ssl.SSLError):
                raise ConfigError(f"cannot reach the MQTT broker at {self._address}: {exc}") from exc
            if isinstance(exc, TimeoutError):
                raise ConfigError(f"the MQTT broker at {self._address} did not answer the connect") from exc
            if isinstance(exc, _Refused):
                raise ConfigError(str(exc)) from exc
            raise
        self._background.spawn(self._stay_connected(conn), name="mqtt-link")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closing = True
        if self._tasks and exc is None:
            # Handlers still running will ack; a message whose ack is lost comes back next time.
            await asyncio.wait(self._tasks, timeout=_CONNECT_TIMEOUT_S)
        conn = self._conn
        if conn is not None:
            self._flush_acks()
            conn.write(packets.DISCONNECT_PACKET)
            if conn.transport is not None:
                conn.transport.close()
        for task in self._tasks:
            task.cancel()  # handlers still running after the wait: their messages come back next time
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._background.close()  # the runner
        for future in self._waiting.values():
            future.cancel()

    async def wait_lost(self) -> None:
        """Return once the connection is gone for good: closed, or lost by a link that does not reconnect."""
        await self._ended.wait()

    async def unsubscribe(self, topics: list[str]) -> None:
        """Unsubscribe now, and leave the topics out of later connects; raises ConnectionError while away."""
        self._subscriptions = [topic for topic in self._subscriptions if topic not in topics]
        conn = self._conn
        if conn is None:
            raise ConnectionError("the link to the broker is down")
        await self._request(conn, lambda packet_id: packets.unsubscribe(packet_id, topics))

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publish; at QoS 1 wait until the broker acknowledged (across reconnects, if need be).

        At QoS 0 a message published while the broker is away is dropped, as QoS 0 allows.
        """
        if qos not in (0, 1):
            raise ValueError("the hub's link publishes at QoS 0 or 1")
        if qos == 0:
            if self._conn is not None:
                self._send(self._conn, packets.publish(topic, payload, qos=0, retain=retain, packet_id=0))
            return
        packet_id = self._packet_id()
        packet = packets.publish(topic, payload, qos=1, retain=retain, packet_id=packet_id)
        acked = self._waiting[packet_id] = asyncio.get_running_loop().create_future()
        self._unacked[packet_id] = packet
        try:
            if self._conn is not None:
                self._send(self._conn, packet)
            await acked
        finally:
            self._unacked.pop(packet_id, None)
            self._waiting.pop(packet_id, None)

    # --- connecting -------------------------------------------------------------------------------

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        address = self._address
        async with asyncio.timeout(_CONNECT_TIMEOUT_S):
            _, conn = await loop.create_connection(
                lambda: _Connection(self._received, self._lost),
                address.host,
                address.port,
                ssl=self._ssl,
                server_hostname=address.host if self._ssl else None,
            )
            try:
                await self._open_session(conn)
            except BaseException:
                conn.close()
                raise
        log.info("connected to the MQTT broker at %s", address)
        return conn

    async def _open_session(self, conn: _Connection) -> None:
        loop = asyncio.get_running_loop()
        self._connack = loop.create_future()
        address = self._address
        self._send(
            conn,
            packets.connect(
                self._client_id, address.username, address.password, self._keepalive_s, clean_session=False
            ),
        )
        code = await self._connack
        if code:
            reason = describe_connack(code)
            raise _Refused(f"the MQTT broker at {address} refused the hub's connection: {reason}")
        # Messages the broker kept for this session may arrive from now on: acknowledge them here.
        self._conn = conn
        self._ping_sent = None
        self._paused = False
        if self._subscriptions:
            subscriptions = self._subscriptions
            codes = await self._request(conn, lambda packet_id: packets.subscribe(packet_id, subscriptions, 1))
            refused = [topic for topic, code in zip(self._subscriptions, codes, strict=False) if code == 0x80]
            if refused:
                self._conn = None
                raise _Refused(f"the MQTT broker at {address} refused the hub's subscription to {', '.join(refused)}")
        for packet in self._unacked.values():
            self._send(conn, packets.as_duplicate(packet))

    async def _request(self, conn: _Connection, build: Callable[[int], bytes]) -> bytes:
        """Send the packet ``build(packet_id)`` makes and return the body of its acknowledgement after the id."""
        packet_id = self._packet_id()
        reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._replies[packet_id] = reply
        try:
            self._send(conn, build(packet_id))
            return await reply
        finally:
            self._replies.pop(packet_id, None)

    async def _stay_connected(self, conn: _Connection) -> None:
        """Keep the connection alive while it lasts; when it is lost, connect again until it works."""
        try:
            await self._keep_connected(conn)
        finally:
            self._ended.set()

    async def _keep_connected(self, conn: _Connection) -> None:
        while True:
            await self._keep_alive(conn)
            if self._closing:
                return
            if not self._reconnects:
                log.warning("lost the MQTT broker at %s (session %s)", self._address, self._client_id)
                return
            log.warning("lost the MQTT broker at %s; reconnecting", self._address)
            conn = await self._reconnect()
            if self._on_reconnect is not None:
                self._on_reconnect()

    async def _reconnect(self) -> _Connection:
        # Jittered: the hub and its replicas, having lost the same broker, must not come back in lockstep.
        delays = _RECONNECT.delays()
        while True:
            await asyncio.sleep(next(delays))
            try:
                return await self._connect()
            except (OSError, TimeoutError, _Refused) as exc:
                log.warning("reconnecting to the MQTT broker at %s failed: %s", self._address, exc)

    async def _keep_alive(self, conn: _Connection) -> None:
        """Ping when the link has been quiet; give up on a connection that stopped answering."""
        loop = asyncio.get_running_loop()
        keepalive = self._keepalive_s
        while not conn.closed.done():
            await asyncio.wait([conn.closed], timeout=keepalive / 3)
            now = loop.time()
            if self._ping_sent is not None and now - self._ping_sent > keepalive:
                log.warning("the MQTT broker at %s stopped answering pings", self._address)
                conn.close()
            elif self._ping_sent is None and now - self._last_sent >= keepalive / 2:
                self._ping_sent = now
                self._send(conn, packets.PINGREQ_PACKET)
        await conn.closed

    # --- reading ------------------------------------------------------------------------------

    def _received(self, conn: _Connection, received: list[Publish | Control]) -> None:
        loop = asyncio.get_running_loop()
        for packet in received:
            if type(packet) is Publish:
                # The link owns these (it waits for or cancels them on the way out); a TaskGroup's
                # bookkeeping cost 6 µs a message here, a seventh of the single-reading ingest path.
                task = loop.create_task(self._handle(conn, packet))
                self._tasks.add(task)
                task.add_done_callback(self._handled)
                continue
            assert isinstance(packet, Control)
            try:
                self._control(packet)
            except packets.ProtocolError as exc:
                log.error("the MQTT broker sent a malformed packet (%s); reconnecting", exc)  # noqa: TRY400
                conn.close()
                return
        if len(self._tasks) > self._max_in_hand and not self._paused and conn.transport is not None:
            # Backpressure onto the broker, which keeps the rest until the handlers catch up.
            self._paused = True
            conn.transport.pause_reading()
            log.info("%d messages in hand: reading from the broker paused until half are done", len(self._tasks))

    def _control(self, packet: Control) -> None:
        if packet.kind == packets.CONNACK:
            if len(packet.body) != 2:
                raise packets.ProtocolError("CONNACK of the wrong length")
            if self._connack is not None and not self._connack.done():
                self._connack.set_result(packet.body[1])
        elif packet.kind == packets.PUBACK:
            waiter = self._waiting.get(packets.packet_id_of(packet.body))
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        elif packet.kind in (packets.SUBACK, packets.UNSUBACK):
            reply = self._replies.get(packets.packet_id_of(packet.body))
            if reply is not None and not reply.done():
                reply.set_result(packet.body[2:])
        elif packet.kind == packets.PINGRESP:
            self._ping_sent = None
        else:
            log.warning("ignored an unexpected MQTT packet of type %d from the broker", packet.kind)

    def _lost(self, conn: _Connection) -> None:
        lost = ConnectionError("the broker closed the connection")
        for waiter in (self._connack, *self._replies.values()):
            if waiter is not None and not waiter.done():
                waiter.set_exception(lost)
        if conn is self._conn:
            self._conn = None
            self._acks.clear()  # acknowledgements belong to the lost connection; the broker sends again

    def _handled(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._paused and len(self._tasks) <= self._max_in_hand // 2 and self._conn is not None:
            self._paused = False
            if self._conn.transport is not None:
                self._conn.transport.resume_reading()

    async def _handle(self, conn: _Connection, message: Publish) -> None:
        try:
            await self._handler(message.topic, message.payload, message.qos)
        except Exception:
            # Not acknowledged: the broker sends it again when the session resumes.
            log.exception("handling a message on %r failed; it stays with the broker", message.topic[:200])
            return
        if message.qos and conn is self._conn:
            if not self._acks:
                asyncio.get_running_loop().call_soon(self._flush_acks)
            self._acks += packets.puback(message.packet_id)

    # --- writing ------------------------------------------------------------------------------

    def _flush_acks(self) -> None:
        """Send every acknowledgement of this loop turn in one write."""
        if self._acks and self._conn is not None:
            self._send(self._conn, bytes(self._acks))
        self._acks.clear()

    def _send(self, conn: _Connection, data: bytes) -> None:
        conn.write(data)
        self._last_sent = asyncio.get_running_loop().time()

    def _packet_id(self) -> int:
        for _ in range(0xFFFF):
            self._next_id = self._next_id % 0xFFFF + 1
            if self._next_id not in self._waiting and self._next_id not in self._replies:
                return self._next_id
        raise ConnectionError("65,535 messages are waiting for the broker")

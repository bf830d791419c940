"""The embedded broker's front door: what a connection must do before amqtt sees any of it.

amqtt acts on a CONNECT before it asks whether the credentials are good (a refused CONNECT
carrying another device's client id still ends that device's session), waits for ever for a
CONNECT that never comes, and acknowledges PUBLISH packets that MQTT 3.1.1 says must end the
connection. So every connection passes here first:

- limits on connections in all and per client address, refused at once when full;
- a complete, valid CONNECT within ``connect_timeout_s``; its protocol level and credentials are
  checked, and a refusal answered with the CONNACK code MQTT 3.1.1 defines, before amqtt reads a byte;
- every later packet is read whole and checked before amqtt may read it (:class:`GatedReader`),
  so a protocol violation closes the connection as the specification requires.

The gate also knows which device every connection belongs to, so ending a device's
connections does not depend on amqtt's session table.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from amqtt.adapters import ReaderAdapter, StreamWriterAdapter, WriterAdapter

from contracts.errors import ConnectionDrop, FieldhubError
from hub.broker.base import DeviceIdentity
from hub.broker.reasons import ConnackCode, connack_code
from hub.broker.wire import decode_length
from hub.logutil import RateLimitedLog
from hub.metrics import Metrics

log = logging.getLogger(__name__)

CONNECT, PUBLISH, PUBREL, SUBSCRIBE, UNSUBSCRIBE = 1, 3, 6, 8, 10
#: Packets only a server sends, and the reserved types: a client sending one breaks the protocol.
_NEVER_FROM_CLIENTS = frozenset({0, 2, 9, 11, 13, 15})
#: Packets whose fixed-header flags must be 0b0010 (MQTT-3.6.1-1, 3.8.1-1, 3.10.1-1); the rest 0.
_FLAGS_TWO = frozenset({PUBREL, SUBSCRIBE, UNSUBSCRIBE})
#: Topic levels a PUBLISH may have (Mosquitto's limit too); Fieldhub's own topics have at most five.
MAX_TOPIC_LEVELS = 200
_CHUNK = 64 * 1024
#: Open files kept for the rest of the process (store, HTTP clients, logs) when capping connections.
_FILE_RESERVE = 128
_CLOSED = "closed an MQTT connection from %s: %s"
_REFUSED = "refused an MQTT connection from %s: %s"


class Violation(FieldhubError):
    """A client broke MQTT 3.1.1; the connection is closed without an answer."""


class UnsupportedProtocol(Violation):
    """A CONNECT of another protocol level (MQTT 3.1, MQTT 5): answered with return code 1."""


@dataclass(frozen=True, slots=True)
class GateLimits:
    """How much a client may ask of the embedded broker; see docs/configuration.md."""

    connect_timeout_s: float
    max_connections: int
    max_per_address: int
    max_packet_bytes: int

    def within_open_files(self) -> GateLimits:
        """These limits with ``max_connections`` lowered so connections cannot exhaust the open-file limit."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY or self.max_connections <= soft - _FILE_RESERVE:
            return self
        capped = max(1, soft - _FILE_RESERVE)
        log.warning("MQTT connections capped at %d by the open-file limit of %d (ulimit -n)", capped, soft)
        return GateLimits(self.connect_timeout_s, capped, self.max_per_address, self.max_packet_bytes)


@dataclass(frozen=True, slots=True)
class Connect:
    """What the gate needs from a CONNECT packet."""

    client_id: str
    username: str | None
    password: str | None


class _Body:
    """Reads the fields of one packet body; every shortfall is a violation."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    @property
    def left(self) -> int:
        return len(self._data) - self._at

    def take(self, n: int, what: str) -> bytes:
        if self.left < n:
            raise Violation(f"{what} runs past the end of the packet")
        chunk = self._data[self._at : self._at + n]
        self._at += n
        return chunk

    def byte(self, what: str) -> int:
        return self.take(1, what)[0]

    def binary(self, what: str) -> bytes:
        return self.take(int.from_bytes(self.take(2, what), "big"), what)

    def text(self, what: str) -> str:
        return utf8(self.binary(what), what)


def utf8(raw: bytes, what: str) -> str:
    """An MQTT string: well-formed UTF-8 without U+0000 (MQTT-1.5.3-1, 1.5.3-2)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Violation(f"{what} is not well-formed UTF-8") from None
    if "\x00" in text:
        raise Violation(f"{what} contains U+0000")
    return text


def parse_connect(first: int, body: bytes) -> Connect:
    """The CONNECT that must open every connection (MQTT-3.1.0-1), checked field by field."""
    if first != CONNECT << 4:
        raise Violation("the first packet is not a CONNECT")
    fields = _Body(body)
    name = fields.binary("protocol name")
    level = fields.byte("protocol level")
    if (name == b"MQTT" and level != 4) or name == b"MQIsdp":
        raise UnsupportedProtocol(f"protocol level {level}: this broker speaks MQTT 3.1.1 (level 4) only")
    if name != b"MQTT":
        raise Violation("the protocol name is not MQTT")
    flags = fields.byte("connect flags")
    will, will_qos, user, password = flags & 0x04, (flags >> 3) & 3, flags & 0x80, flags & 0x40
    if flags & 0x01 or will_qos == 3 or (not will and flags & 0x38) or (password and not user):
        raise Violation(f"connect flags {flags:#04x} break MQTT-3.1.2-3, 3.1.2-11 to 3.1.2-15 or 3.1.2-22")
    fields.take(2, "keep alive")
    client_id = fields.text("client identifier")
    if will:
        topic = fields.text("will topic")
        check_topic_name(topic, "will topic")
        fields.binary("will message")
    username = fields.text("user name") if user else None
    secret = fields.binary("password") if password else None
    if fields.left:
        raise Violation("bytes after the last field of CONNECT")
    return Connect(client_id, username, None if secret is None else secret.decode("utf-8", errors="replace"))


def check_topic_name(topic: str, what: str) -> None:
    """A topic a client publishes to: not empty, no wildcard (MQTT-4.7.3-1, 3.3.2-2), bounded depth."""
    if not topic:
        raise Violation(f"{what} is empty")
    if "+" in topic or "#" in topic:
        raise Violation(f"{what} contains a wildcard")
    if topic.count("/") >= MAX_TOPIC_LEVELS:
        raise Violation(f"{what} has more than {MAX_TOPIC_LEVELS} levels")


def check_packet(first: int, body: bytes) -> None:
    """A packet after the CONNECT: the checks amqtt leaves out, each a reason to close the connection."""
    kind, flags = first >> 4, first & 0x0F
    if kind == CONNECT:
        raise Violation("a second CONNECT (MQTT-3.1.0-2)")
    if kind in _NEVER_FROM_CLIENTS:
        raise Violation(f"packet type {kind} is never sent by a client")
    if kind == PUBLISH:
        if (flags >> 1) & 3 == 3:
            raise Violation("PUBLISH at QoS 3 (MQTT-3.3.1-4)")
        fields = _Body(body)
        check_topic_name(fields.text("topic name"), "topic name")
        if flags & 0x06 and int.from_bytes(fields.take(2, "packet identifier"), "big") == 0:
            raise Violation("packet identifier 0 (MQTT-2.3.1-1)")
        return
    if flags != (2 if kind in _FLAGS_TWO else 0):
        raise Violation(f"reserved flags {flags:#x} on packet type {kind} (MQTT-2.2.2-2)")
    if kind in (SUBSCRIBE, UNSUBSCRIBE):
        fields = _Body(body)
        fields.take(2, "packet identifier")
        if not fields.left:
            raise Violation("a subscription packet without topic filters (MQTT-3.8.3-3, 3.10.3-2)")
        while fields.left:
            if not fields.text("topic filter"):
                raise Violation("an empty topic filter (MQTT-4.7.3-1)")
            if kind == SUBSCRIBE and fields.byte("requested QoS") > 2:
                raise Violation("requested QoS above 2 or reserved bits set (MQTT-3.8.3-4)")


class GatedReader(ReaderAdapter):  # type: ignore[misc]  # amqtt ships no type information
    """Hands amqtt only whole packets that passed :func:`check_packet`; the first must be a CONNECT.

    Before the CONNECT is whole a violation is raised to the gate. After it, the violation is
    reported to ``on_violation`` and amqtt sees the end of the stream: it cleans up as after a
    network failure (the client's last will is published, as MQTT-3.1.2-8 asks).
    """

    def __init__(
        self, stream: asyncio.StreamReader, max_packet_bytes: int, on_violation: Callable[[Violation], None]
    ) -> None:
        self._stream = stream
        self._max = max_packet_bytes
        self._on_violation = on_violation
        self._buffer = bytearray()
        self._at = 0  # the next byte amqtt reads
        self._checked = 0  # the end of the packets that passed
        self._connect: Connect | None = None
        self._ended = False

    async def connect(self) -> Connect:
        """Wait for the CONNECT and return it (it stays in the buffer for amqtt to read)."""
        while self._connect is None:
            await self._more()
        return self._connect

    async def read(self, n: int = -1) -> bytes:
        while self._checked - self._at < max(n, 1):
            await self._more()
        end = self._checked if n < 0 else self._at + n
        data = bytes(self._buffer[self._at : end])
        self._at = end
        return data

    def feed_eof(self) -> None:
        self._stream.feed_eof()

    async def _more(self) -> None:
        if self._ended:
            raise asyncio.IncompleteReadError(b"", None)
        data = await self._stream.read(_CHUNK)
        if not data:
            self._ended = True
            raise asyncio.IncompleteReadError(b"", None)
        if self._at == len(self._buffer):
            self._buffer.clear()
            self._at = self._checked = 0
        elif self._at >= _CHUNK:
            del self._buffer[: self._at]
            self._checked -= self._at
            self._at = 0
        self._buffer += data
        try:
            self._check_arrived()
        except Violation as exc:
            self._ended = True
            if self._connect is None:
                raise  # still the gate's to answer: amqtt has not seen this connection
            self._on_violation(exc)
            raise asyncio.IncompleteReadError(b"", None) from None

    def _check_arrived(self) -> None:
        buffer = self._buffer
        if self._connect is None and buffer[0] != CONNECT << 4:
            raise Violation("the first packet is not a CONNECT")  # said at its first byte, not its last
        while self._checked < len(buffer):
            try:
                header = decode_length(buffer, self._checked + 1, len(buffer))
            except ValueError as exc:
                raise Violation(str(exc)) from None
            if header is None:
                return
            length, start = header
            if length > self._max:
                raise Violation(f"a packet of {length} bytes, above the limit of {self._max}")
            end = start + length
            if end > len(buffer):
                return
            first, body = buffer[self._checked], bytes(buffer[start:end])
            if self._connect is None:
                self._connect = parse_connect(first, body)
            else:
                check_packet(first, body)
            self._checked = end


Admit = Callable[[Connect], Awaitable[DeviceIdentity]]
Serve = Callable[[ReaderAdapter, WriterAdapter, str], Awaitable[None]]


@dataclass(eq=False, slots=True)
class _Connection:
    transport: asyncio.WriteTransport
    address: str
    identity: DeviceIdentity | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class Gate:
    """Admits connections to the embedded broker (see the module docstring) and can end them by device."""

    def __init__(self, limits: GateLimits, admit: Admit, serve: Serve, metrics: Metrics) -> None:
        self._limits = limits
        self._admit = admit
        self._serve = serve
        self._metrics = metrics
        self._log = RateLimitedLog(log)
        self._connections: set[_Connection] = set()
        self._per_address: Counter[str] = Counter()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener: str) -> None:
        """Serve one accepted connection until it ends (the listener's callback)."""
        peer = writer.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        if self._full(address):
            writer.transport.abort()
            return
        connection = _Connection(writer.transport, address)
        self._connections.add(connection)
        self._per_address[address] += 1
        self._metrics.connections_open.inc()
        try:
            gated = GatedReader(reader, self._limits.max_packet_bytes, lambda exc: self._violated(address, exc))
            if await self._admitted(connection, gated, writer):
                await self._serve(gated, StreamWriterAdapter(writer), listener)
        finally:
            self._connections.discard(connection)
            self._metrics.connections_open.dec()
            self._per_address[address] -= 1
            if not self._per_address[address]:
                del self._per_address[address]
            connection.transport.abort()
            connection.ended.set()

    def _full(self, address: str) -> bool:
        if len(self._connections) >= self._limits.max_connections:
            reason = ConnectionDrop.TOO_MANY_CONNECTIONS
        elif self._per_address[address] >= self._limits.max_per_address:
            reason = ConnectionDrop.TOO_MANY_FROM_ADDRESS
        else:
            return False
        self._drop(reason, _CLOSED, address, reason.value)
        return True

    async def _admitted(self, connection: _Connection, gated: GatedReader, writer: asyncio.StreamWriter) -> bool:
        try:
            async with asyncio.timeout(self._limits.connect_timeout_s):
                connect = await gated.connect()
        except TimeoutError:
            self._drop(ConnectionDrop.CONNECT_TIMEOUT, _CLOSED, connection.address, "no CONNECT in time")
            return False
        except UnsupportedProtocol as exc:
            self._refuse(writer, ConnackCode.UNACCEPTABLE_PROTOCOL_VERSION)
            self._drop(ConnectionDrop.UNSUPPORTED_PROTOCOL, _REFUSED, connection.address, exc.message)
            return False
        except Violation as exc:
            self._violated(connection.address, exc)
            return False
        except (asyncio.IncompleteReadError, ConnectionError):
            return False  # gone before its CONNECT was whole
        try:
            connection.identity = await self._admit(connect)
        except FieldhubError as exc:
            self._refuse(writer, connack_code(exc))
            return False
        return True

    def _refuse(self, writer: asyncio.StreamWriter, code: ConnackCode) -> None:
        # MQTT-3.2.2-4: session present is 0 in a refusal; the server then closes the connection.
        writer.write(bytes((0x20, 2, 0, code)))
        writer.close()

    def _violated(self, address: str, exc: Violation) -> None:
        self._drop(ConnectionDrop.PROTOCOL_ERROR, _CLOSED, address, exc.message)

    def _drop(self, reason: ConnectionDrop, msg: str, *args: object) -> None:
        self._metrics.connections_dropped_by[reason].inc()
        self._log.warning(f"drop:{reason}", msg, *args)

    async def disconnect(self, device_id: str, timeout_s: float) -> int:
        """End every connection of ``device_id`` at once; wait (bounded) until amqtt has let go of them."""
        ended = [c for c in self._connections if c.identity is not None and c.identity.device_id == device_id]
        await self._end(ended, timeout_s)
        return len(ended)

    async def disconnect_all(self, timeout_s: float) -> None:
        await self._end(list(self._connections), timeout_s)

    async def _end(self, connections: list[_Connection], timeout_s: float) -> None:
        for connection in connections:
            connection.transport.abort()
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.gather(*(c.ended.wait() for c in connections))
        except TimeoutError:
            log.warning("%d MQTT connections did not end within %.0f s", len(connections), timeout_s)

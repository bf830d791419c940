"""The MQTT 3.1.1 packets of the hub's broker link: what a subscribing, publishing client sends and reads.

Only the client side of QoS 0 and 1 is here (the link subscribes at QoS 1, so the broker never
sends QoS 2). :class:`Reader` cuts a byte stream into packets, as many as arrived at once.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from contracts.errors import FieldhubError
from hub.broker.wire import decode_length, encode_length

CONNACK, PUBLISH, PUBACK, SUBACK, UNSUBACK, PINGRESP = 2, 3, 4, 9, 11, 13
PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"
_PUBACK = struct.Struct(">BBH")
_DUP = 0x08


class ProtocolError(FieldhubError):
    """The broker sent bytes that are not MQTT 3.1.1 (the link drops the connection and connects again)."""

    retryable = True


@dataclass(frozen=True, slots=True)
class Publish:
    """An application message from the broker."""

    topic: str
    payload: bytes
    qos: int
    packet_id: int  # 0 at QoS 0


@dataclass(frozen=True, slots=True)
class Control:
    """Any other packet: its type and body (variable header and payload)."""

    kind: int
    body: bytes


def _field(data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise ValueError("an MQTT string or binary field holds at most 65,535 bytes")
    return len(data).to_bytes(2, "big") + data


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + encode_length(len(body)) + body


def connect(client_id: str, username: str, password: str, keepalive: int, *, clean_session: bool) -> bytes:
    flags = 0x80 | 0x40 | (0x02 if clean_session else 0)
    header = _field(b"MQTT") + bytes((4, flags)) + keepalive.to_bytes(2, "big")
    payload = _field(client_id.encode()) + _field(username.encode()) + _field(password.encode())
    return _packet(0x10, header + payload)


def subscribe(packet_id: int, topics: list[str], qos: int) -> bytes:
    body = packet_id.to_bytes(2, "big") + b"".join(_field(topic.encode()) + bytes((qos,)) for topic in topics)
    return _packet(0x82, body)


def unsubscribe(packet_id: int, topics: list[str]) -> bytes:
    body = packet_id.to_bytes(2, "big") + b"".join(_field(topic.encode()) for topic in topics)
    return _packet(0xA2, body)


def publish(topic: str, payload: bytes, *, qos: int, retain: bool, packet_id: int) -> bytes:
    first = 0x30 | qos << 1 | (1 if retain else 0)
    header = _field(topic.encode()) + (packet_id.to_bytes(2, "big") if qos else b"")
    return _packet(first, header + payload)


def as_duplicate(packet: bytes) -> bytes:
    """A PUBLISH sent again after a reconnect carries the DUP flag."""
    return bytes((packet[0] | _DUP,)) + packet[1:]


def puback(packet_id: int) -> bytes:
    return _PUBACK.pack(0x40, 2, packet_id)


def packet_id_of(body: bytes) -> int:
    """The packet identifier that opens a PUBACK, SUBACK or UNSUBACK."""
    if len(body) < 2:
        raise ProtocolError("acknowledgement without a packet identifier")
    return int.from_bytes(body[:2], "big")


class Reader:
    """Cuts the bytes of one connection into packets; keeps a partial packet for the next call."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Publish | Control]:
        buffer = self._buffer
        buffer += data
        out: list[Publish | Control] = []
        at, end = 0, len(buffer)
        while at < end:
            header = _length(buffer, at + 1, end)
            if header is None:
                break
            length, start = header
            stop = start + length
            if stop > end:
                break  # the rest of this packet has not arrived yet
            out.append(_decode(buffer[at], buffer, start, stop))
            at = stop
        del buffer[:at]
        return out


def _length(buffer: bytearray, at: int, end: int) -> tuple[int, int] | None:
    try:
        return decode_length(buffer, at, end)
    except ValueError as exc:
        raise ProtocolError(str(exc)) from None


def _decode(first: int, buffer: bytearray, start: int, stop: int) -> Publish | Control:
    kind = first >> 4
    if kind != PUBLISH:
        return Control(kind, bytes(buffer[start:stop]))
    qos = (first >> 1) & 3
    if qos > 1:
        raise ProtocolError(f"PUBLISH at QoS {qos} on a QoS 1 subscription")
    if stop - start < 2:
        raise ProtocolError("PUBLISH without a topic")
    topic_end = start + 2 + int.from_bytes(buffer[start : start + 2], "big")
    at = topic_end + 2 if qos else topic_end
    if at > stop:
        raise ProtocolError("PUBLISH shorter than its topic")
    try:
        topic = buffer[start + 2 : topic_end].decode()
    except UnicodeDecodeError:
        raise ProtocolError("PUBLISH topic is not UTF-8") from None
    packet_id = int.from_bytes(buffer[topic_end:at], "big") if qos else 0
    return Publish(topic, bytes(buffer[at:stop]), qos, packet_id)

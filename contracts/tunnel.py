"""The app-link tunnel's wire format, shared by the hub and the agent.

A node dials the hub (``GET /api/v1/nodes/{id}/tunnel``, a WebSocket, HTTP Basic with its MQTT credentials) and
keeps that one connection open; the hub carries every request to the node's apps over it, so the hub never
connects to the node (NAT-safe). The connection holds many *streams*, each a byte pipe to one app service's
TCP port on the node (``127.0.0.1``).

Every binary WebSocket message is one frame, or a batch of frames (below)::

    +--------+-------------------------+-------------------+
    | type   | stream id               | payload           |
    | 1 byte | 4 bytes, big endian     | the rest          |
    +--------+-------------------------+-------------------+

- ``OPEN`` (hub to node): open stream ``id``; payload ``{"deployment", "replica", "service"}`` (JSON). Only the
  hub opens streams, each with a new id (never 0).
- ``OPENED`` (node to hub): the node connected to the service's port; empty payload.
- ``DATA``: bytes of the stream (at most :data:`MAX_DATA` a frame).
- ``EOF``: half-close: this side sends no more data on the stream (it still reads); empty payload.
- ``CLOSE``: the stream is over for both sides (a refused ``OPEN``, an abort, or the end after both ``EOF``);
  payload: an optional UTF-8 reason. Nothing more is sent on it after.
- ``WINDOW``: flow-control credit: payload a 4-byte big-endian count of bytes the receiver consumed.

Flow control is per stream and per direction: each side may have at most :data:`INITIAL_WINDOW` bytes of
``DATA`` unconsumed at the other side; the receiver grants credit back with ``WINDOW`` as it hands bytes on
(batched: :class:`ReceiveWindow`). So one slow stream never stalls the others, and neither side buffers more
than a window a stream. A peer that overruns the window breaks the protocol: that stream is closed.

A node that offers the WebSocket subprotocol :data:`SUBPROTOCOL` (and a hub that accepts it) may also send a
*batch*: a message of a first byte 0, then frames each preceded by its length (4 bytes, big endian), at most
:data:`MAX_BATCH` bytes in all. A busy side thus sends the frames of many streams in one message (one write
and one WebSocket frame instead of one each); older peers, which offer or accept no subprotocol, get single
frames only. :func:`pack` makes messages of frames, :func:`split` takes them apart.

:func:`decode` refuses unknown types, short frames and malformed payloads with :class:`FrameError`; the
tunnel drops that frame (and its stream, when the id is known), never the process or the connection.
"""

from __future__ import annotations

import enum
import json
import struct
from dataclasses import dataclass

from contracts.errors import ErrorCode, FieldhubError

#: Bytes of ``DATA`` a side may have unconsumed at the other, per stream, at the start.
INITIAL_WINDOW = 256 * 1024
#: The most ``DATA`` bytes in one frame.
MAX_DATA = 64 * 1024
#: The most bytes of a whole frame (``OPEN``'s JSON and ``CLOSE``'s reason are far smaller than ``DATA``).
MAX_FRAME = 5 + MAX_DATA
#: Longest ``CLOSE`` reason sent (longer ones are cut).
MAX_REASON = 500

#: The WebSocket subprotocol of a tunnel whose both sides read and write batches.
SUBPROTOCOL = "fieldhub-tunnel-batch"
#: The most bytes of a batch message.
MAX_BATCH = 4 * MAX_FRAME

_HEADER = struct.Struct(">BI")
_CREDIT = struct.Struct(">I")
_LENGTH = struct.Struct(">I")
_BATCH = 0


class FrameType(enum.IntEnum):
    """What a frame carries."""

    OPEN = 1
    OPENED = 2
    DATA = 3
    EOF = 4
    CLOSE = 5
    WINDOW = 6


_TYPES = {t.value: t for t in FrameType}


class FrameError(FieldhubError, ValueError):
    """A frame that breaks the protocol; ``stream`` is its stream id when the header was readable."""

    code = ErrorCode.INVALID_REQUEST

    def __init__(self, message: str, stream: int | None = None) -> None:
        super().__init__(message)
        self.stream = stream


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame."""

    type: FrameType
    stream: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class OpenRequest:
    """What an ``OPEN`` asks for: a service of one replica of a deployment on the node."""

    deployment: str
    replica: int
    service: str


def encode(type_: FrameType, stream: int, payload: bytes = b"") -> bytes:
    """One frame as the bytes of a WebSocket message."""
    return _HEADER.pack(type_, stream) + payload


def decode(message: bytes) -> Frame:
    """Parse and check one WebSocket message as a frame.

    Raises:
        FrameError: a short or oversized frame, an unknown type, stream id 0, or a payload the type forbids.
    """
    if len(message) < _HEADER.size:
        raise FrameError(f"short frame: {len(message)} bytes, at least {_HEADER.size} expected")
    code, stream = _HEADER.unpack_from(message)
    type_ = _TYPES.get(code)
    if type_ is None:
        raise FrameError(f"unknown frame type {code}", stream or None)
    if stream == 0:
        raise FrameError("stream id 0 is reserved")
    if len(message) > MAX_FRAME:
        raise FrameError(f"frame of {len(message)} bytes, at most {MAX_FRAME}", stream)
    payload = bytes(message[_HEADER.size :])
    if type_ in (FrameType.OPENED, FrameType.EOF) and payload:
        raise FrameError(f"{type_.name} carries no payload", stream)
    if type_ is FrameType.DATA and not payload:
        raise FrameError("empty DATA frame", stream)
    if type_ is FrameType.WINDOW and (len(payload) != _CREDIT.size or not _CREDIT.unpack(payload)[0]):
        raise FrameError("WINDOW needs a 4-byte credit above 0", stream)
    if type_ is FrameType.CLOSE:
        try:
            payload.decode()
        except UnicodeDecodeError as exc:
            raise FrameError("CLOSE reason is not UTF-8", stream) from exc
    return Frame(type_, stream, payload)


def pack(frames: list[bytes]) -> list[bytes]:
    """``frames`` as few messages as :data:`MAX_BATCH` allows, in order; a lone frame stays itself.

    Only for a peer that negotiated :data:`SUBPROTOCOL`.
    """
    messages: list[bytes] = []
    group: list[bytes] = []
    size = 1
    for frame in frames:
        if group and size + _LENGTH.size + len(frame) > MAX_BATCH:
            messages.append(_batch(group))
            group, size = [], 1
        group.append(frame)
        size += _LENGTH.size + len(frame)
    if group:
        messages.append(_batch(group))
    return messages


def _batch(frames: list[bytes]) -> bytes:
    if len(frames) == 1:
        return frames[0]
    parts = [bytes((_BATCH,))]
    for frame in frames:
        parts += (_LENGTH.pack(len(frame)), frame)
    return b"".join(parts)


def split(message: bytes) -> list[bytes]:
    """The frames a message carries: itself, or those of a batch (each still to :func:`decode`).

    Raises:
        FrameError: a batch whose lengths do not add up (the whole message is dropped).
    """
    if not message or message[0] != _BATCH:
        return [message]
    if len(message) > MAX_BATCH:
        raise FrameError(f"batch of {len(message)} bytes, at most {MAX_BATCH}")
    frames = []
    position, end = 1, len(message)
    while position < end:
        if position + _LENGTH.size > end:
            raise FrameError("batch cut short")
        (size,) = _LENGTH.unpack_from(message, position)
        position += _LENGTH.size
        if not size or position + size > end:
            raise FrameError("batch cut short")
        frames.append(message[position : position + size])
        position += size
    return frames


def open_frame(stream: int, request: OpenRequest) -> bytes:
    """An ``OPEN`` frame."""
    body = {"deployment": request.deployment, "replica": request.replica, "service": request.service}
    return encode(FrameType.OPEN, stream, json.dumps(body, separators=(",", ":")).encode())


def parse_open(frame: Frame) -> OpenRequest:
    """The request an ``OPEN`` frame carries; :class:`FrameError` if malformed."""
    try:
        body = json.loads(frame.payload)
    except ValueError as exc:
        raise FrameError("OPEN payload is not JSON", frame.stream) from exc
    if not isinstance(body, dict):
        raise FrameError("OPEN payload is not an object", frame.stream)
    deployment, replica, service = body.get("deployment"), body.get("replica"), body.get("service")
    if not isinstance(deployment, str) or not isinstance(service, str) or not deployment or not service:
        raise FrameError("OPEN needs the strings deployment and service", frame.stream)
    if type(replica) is not int or replica < 0:
        raise FrameError("OPEN needs replica, an integer from 0", frame.stream)
    return OpenRequest(deployment, replica, service)


def close_frame(stream: int, reason: str = "") -> bytes:
    """A ``CLOSE`` frame with ``reason`` (cut to :data:`MAX_REASON` characters)."""
    return encode(FrameType.CLOSE, stream, reason[:MAX_REASON].encode())


def window_frame(stream: int, credit: int) -> bytes:
    """A ``WINDOW`` frame granting ``credit`` bytes (1 to 2**32 - 1)."""
    return encode(FrameType.WINDOW, stream, _CREDIT.pack(credit))


def credit_of(frame: Frame) -> int:
    """The credit a (decoded, so valid) ``WINDOW`` frame grants."""
    credit: int = _CREDIT.unpack(frame.payload)[0]
    return credit


class ReceiveWindow:
    """The receiving side's accounting of one stream: what the peer may still send, what to grant back.

    Credit is granted back once a quarter of the window was consumed, so a stream of small messages costs
    one ``WINDOW`` frame per 64 KiB, not one per message.
    """

    __slots__ = ("_allowed", "_consumed", "_threshold")

    def __init__(self, size: int = INITIAL_WINDOW) -> None:
        self._allowed = size
        self._consumed = 0
        self._threshold = max(1, size // 4)

    def received(self, count: int) -> bool:
        """Count ``count`` bytes arriving; ``False`` if they overrun the window (a protocol violation)."""
        if count > self._allowed:
            return False
        self._allowed -= count
        return True

    def consumed(self, count: int) -> int:
        """Count ``count`` bytes handed on; the credit to grant now (0: wait for more)."""
        self._consumed += count
        if self._consumed < self._threshold:
            return 0
        credit, self._consumed = self._consumed, 0
        self._allowed += credit
        return credit

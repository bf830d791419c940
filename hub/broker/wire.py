"""MQTT 3.1.1 framing shared by the hub's client link and the embedded broker's gate.

A packet is a first byte (type and flags), a remaining length of one to four bytes (seven bits
each, least significant first) and that many bytes of body.
"""

from __future__ import annotations

MAX_LENGTH = 268_435_455  # four length bytes


def encode_length(length: int) -> bytes:
    """The remaining-length field: seven bits a byte, least significant first."""
    if not 0 <= length <= MAX_LENGTH:
        raise ValueError(f"an MQTT packet cannot carry {length} bytes")
    out = bytearray()
    while True:
        length, byte = divmod(length, 128)
        out.append(byte | 0x80 if length else byte)
        if not length:
            return bytes(out)


def decode_length(buffer: bytearray, at: int, end: int) -> tuple[int, int] | None:
    """The remaining length that starts at ``at`` and where the body starts; ``None`` until it all arrived.

    Raises:
        ValueError: the field runs past four bytes.
    """
    length = shift = 0
    for index in range(at, min(at + 4, end)):
        byte = buffer[index]
        length |= (byte & 0x7F) << shift
        if byte < 0x80:
            return length, index + 1
        shift += 7
    if end - at >= 4:
        raise ValueError("remaining length longer than four bytes")
    return None

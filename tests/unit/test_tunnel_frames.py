"""The tunnel's frames: what is encoded decodes the same, and anything malformed is refused with a clear error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.tunnel import (
    INITIAL_WINDOW,
    MAX_DATA,
    FrameError,
    FrameType,
    OpenRequest,
    ReceiveWindow,
    close_frame,
    credit_of,
    decode,
    encode,
    open_frame,
    parse_open,
    window_frame,
)

pytestmark = pytest.mark.timeout(30)

streams = st.integers(min_value=1, max_value=2**32 - 1)


@given(streams, st.binary(min_size=1, max_size=MAX_DATA))
def test_data_round_trips(stream: int, payload: bytes) -> None:
    frame = decode(encode(FrameType.DATA, stream, payload))
    assert (frame.type, frame.stream, frame.payload) == (FrameType.DATA, stream, payload)


@given(streams, st.text(max_size=40), st.integers(min_value=0, max_value=63), st.text(min_size=1, max_size=20))
def test_open_round_trips(stream: int, deployment: str, replica: int, service: str) -> None:
    request = OpenRequest(deployment or "dep-1", replica, service)
    frame = decode(open_frame(stream, request))
    assert frame.type is FrameType.OPEN and frame.stream == stream
    assert parse_open(frame) == request


@given(streams, st.integers(min_value=1, max_value=2**32 - 1))
def test_window_round_trips(stream: int, credit: int) -> None:
    assert credit_of(decode(window_frame(stream, credit))) == credit


def test_close_eof_and_opened_round_trip() -> None:
    assert decode(close_frame(7, "no such instance on this node")).payload == b"no such instance on this node"
    assert decode(close_frame(7)).payload == b""
    assert len(decode(close_frame(7, "x" * 10_000)).payload) == 500
    assert decode(encode(FrameType.EOF, 9)).type is FrameType.EOF
    assert decode(encode(FrameType.OPENED, 9)).type is FrameType.OPENED


@pytest.mark.parametrize(
    ("message", "problem", "stream"),
    [
        (b"", "short frame", None),
        (b"\x03\x00\x00", "short frame", None),
        (b"\x09\x00\x00\x00\x05data", "unknown frame type 9", 5),
        (b"\x03\x00\x00\x00\x00data", "stream id 0", None),
        (b"\x03\x00\x00\x00\x05", "empty DATA", 5),
        (b"\x02\x00\x00\x00\x05x", "OPENED carries no payload", 5),
        (b"\x04\x00\x00\x00\x05x", "EOF carries no payload", 5),
        (b"\x06\x00\x00\x00\x05\x00\x00\x00\x00", "WINDOW needs", 5),
        (b"\x06\x00\x00\x00\x05\x00\x01", "WINDOW needs", 5),
        (b"\x05\x00\x00\x00\x05\xff\xfe", "not UTF-8", 5),
        (b"\x03\x00\x00\x00\x05" + b"x" * (MAX_DATA + 1), "at most", 5),
    ],
)
def test_bad_frames_are_refused(message: bytes, problem: str, stream: int | None) -> None:
    with pytest.raises(FrameError, match=problem) as refused:
        decode(message)
    assert refused.value.stream == stream


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[]", b'{"deployment": "d", "replica": 0}', b'{"deployment": "d", "replica": -1, "service": "s"}'],
)
def test_bad_open_payloads_are_refused(payload: bytes) -> None:
    with pytest.raises(FrameError, match="OPEN"):
        parse_open(decode(encode(FrameType.OPEN, 3, payload)))


@given(st.binary(max_size=64))
def test_decoding_anything_either_works_or_says_why(message: bytes) -> None:
    try:
        decode(message)
    except FrameError as exc:
        assert exc.message


def test_the_receive_window_grants_in_batches_and_refuses_overruns() -> None:
    window = ReceiveWindow()
    assert window.received(INITIAL_WINDOW)
    assert not window.received(1)  # the sender used up its credit
    assert window.consumed(1000) == 0  # too little to be worth a frame
    credit = window.consumed(INITIAL_WINDOW // 4)
    assert credit == INITIAL_WINDOW // 4 + 1000
    assert window.received(credit) and not window.received(1)

"""The broker link's MQTT 3.1.1 codec: lengths, packets cut anywhere, and what is not MQTT."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.broker.mosquitto import packets
from hub.broker.mosquitto.packets import Control, ProtocolError, Publish, Reader
from hub.broker.wire import encode_length


@pytest.mark.parametrize(
    ("length", "encoded"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (2_097_152, b"\x80\x80\x80\x01"),
        (268_435_455, b"\xff\xff\xff\x7f"),
    ],
)
def test_remaining_length_at_each_byte_boundary(length: int, encoded: bytes) -> None:
    assert encode_length(length) == encoded


def test_lengths_beyond_four_bytes_are_refused_both_ways() -> None:
    with pytest.raises(ValueError, match="cannot carry"):
        encode_length(268_435_456)
    with pytest.raises(ProtocolError, match="longer than four bytes"):
        Reader().feed(b"\x30\xff\xff\xff\xff\x01")


def test_connect_is_the_3_1_1_packet_with_credentials_and_a_kept_session() -> None:
    packet = packets.connect("hub", "user", "pw", 30, clean_session=False)
    body = b"\x00\x04MQTT\x04\xc0\x00\x1e" + b"\x00\x03hub" + b"\x00\x04user" + b"\x00\x02pw"
    assert packet == b"\x10" + bytes((len(body),)) + body
    assert packets.connect("hub", "u", "p", 30, clean_session=True)[9] == 0xC2


def test_subscribe_publish_and_acknowledgements() -> None:
    assert packets.subscribe(7, ["a/#", "b"], 1) == b"\x82\x0c\x00\x07\x00\x03a/#\x01\x00\x01b\x01"
    assert packets.unsubscribe(8, ["a/#", "b"]) == b"\xa2\x0a\x00\x08\x00\x03a/#\x00\x01b"
    sent = packets.publish("t", b"xy", qos=1, retain=True, packet_id=258)
    assert sent == b"\x33\x07\x00\x01t\x01\x02xy"
    assert packets.as_duplicate(sent) == b"\x3b" + sent[1:]
    assert packets.publish("t", b"", qos=0, retain=False, packet_id=0) == b"\x30\x03\x00\x01t"
    assert packets.puback(258) == b"\x40\x02\x01\x02"
    with pytest.raises(ValueError, match="65,535"):
        packets.publish("t" * 70_000, b"", qos=0, retain=False, packet_id=0)


messages = st.lists(
    st.tuples(
        st.text(min_size=1, max_size=40), st.binary(max_size=300), st.sampled_from([0, 1]), st.integers(1, 65535)
    ),
    min_size=1,
    max_size=8,
)


@given(messages, st.data())
def test_packets_cut_anywhere_come_out_whole_and_in_order(
    sent: list[tuple[str, bytes, int, int]], data: st.DataObject
) -> None:
    stream = (
        b"".join(
            packets.publish(topic, payload, qos=qos, retain=False, packet_id=pid if qos else 0)
            for topic, payload, qos, pid in sent
        )
        + b"\xd0\x00"
    )  # and a PINGRESP
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    reader, got = Reader(), []
    for start, stop in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got += reader.feed(stream[start:stop])
    expected = [Publish(topic, payload, qos, pid if qos else 0) for topic, payload, qos, pid in sent]
    assert got == [*expected, Control(packets.PINGRESP, b"")]


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (b"\x34\x05\x00\x01t\x00\x01", "QoS 2"),
        (b"\x32\x01\x00", "without a topic"),
        (b"\x32\x04\x00\x09ab", "shorter than its topic"),
        (b"\x30\x04\x00\x02\xff\xfe", "not UTF-8"),
    ],
)
def test_what_is_not_mqtt_is_a_protocol_error(stream: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        Reader().feed(stream)


def test_acknowledgements_carry_their_packet_id() -> None:
    [ack] = Reader().feed(b"\x40\x02\x01\x02")
    assert isinstance(ack, Control) and packets.packet_id_of(ack.body) == 258
    [unsuback] = Reader().feed(b"\xb0\x02\x00\x08")
    assert isinstance(unsuback, Control) and unsuback.kind == packets.UNSUBACK
    assert packets.packet_id_of(unsuback.body) == 8
    with pytest.raises(ProtocolError, match="packet identifier"):
        packets.packet_id_of(b"\x01")

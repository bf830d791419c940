"""The embedded broker's gate: CONNECT parsing, packet checks, CONNACK codes and the amqtt it relies on."""

from __future__ import annotations

import contextlib
import inspect
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from amqtt.broker import Broker
from amqtt.contexts import ListenerType
from amqtt.session import Session
from hypothesis import given
from hypothesis import strategies as st

from contracts.errors import AuthRefusal
from hub.broker.gate import UnsupportedProtocol, Violation, check_packet, parse_connect
from hub.broker.mosquitto import packets
from hub.broker.reasons import ConnackCode, connack_code, describe_connack
from hub.errors import StoreUnavailable
from hub.security.device_auth import AuthRefused

pytestmark = pytest.mark.timeout(30)


def _connect_body(name: bytes = b"MQTT", level: int = 4, flags: int = 0xC2, tail: bytes = b"") -> bytes:
    payload = b"\x00\x03dev" + b"\x00\x03dev" + b"\x00\x02pw"
    return len(name).to_bytes(2, "big") + name + bytes((level, flags)) + b"\x00\x1e" + payload + tail


def test_a_3_1_1_connect_is_read_field_by_field() -> None:
    connect = parse_connect(0x10, packets.connect("dev:a", "dev", "secret", 30, clean_session=True)[2:])
    assert (connect.client_id, connect.username, connect.password) == ("dev:a", "dev", "secret")


@pytest.mark.parametrize(("name", "level"), [(b"MQTT", 5), (b"MQTT", 3), (b"MQIsdp", 3)])
def test_other_protocol_levels_are_unsupported(name: bytes, level: int) -> None:
    with pytest.raises(UnsupportedProtocol, match=f"level {level}"):
        parse_connect(0x10, _connect_body(name, level))


@pytest.mark.parametrize(
    ("first", "body", "what"),
    [
        (0x30, _connect_body(), "not a CONNECT"),
        (0x10, _connect_body(name=b"HTTP"), "protocol name"),
        (0x10, _connect_body(flags=0xC3), "connect flags"),
        (0x10, _connect_body(flags=0x42), "connect flags"),  # a password without a user name
        (0x10, _connect_body(flags=0xDE), "connect flags"),  # will QoS 3
        (0x10, _connect_body(tail=b"x"), "after the last field"),
        (0x10, _connect_body()[:-3], "runs past the end"),
    ],
)
def test_a_malformed_connect_is_a_violation(first: int, body: bytes, what: str) -> None:
    with pytest.raises(Violation, match=what):
        parse_connect(first, body)


def _publish(topic: bytes, qos: int = 1, packet_id: int = 7) -> tuple[int, bytes]:
    body = len(topic).to_bytes(2, "big") + topic + (packet_id.to_bytes(2, "big") if qos else b"") + b"{}"
    return 0x30 | qos << 1, body


@pytest.mark.parametrize(
    ("packet", "what"),
    [
        (_publish(b"a/\xff"), "UTF-8"),
        (_publish(b"a/\x00"), "U\\+0000"),
        (_publish(b"a/#"), "wildcard"),
        (_publish(b""), "empty"),
        (_publish(b"a/" * 200 + b"b"), "levels"),
        (_publish(b"a", packet_id=0), "identifier 0"),
        ((0x36, _publish(b"a")[1]), "QoS 3"),
        ((0x10, b""), "second CONNECT"),
        ((0x20, b"\x00\x00"), "never sent by a client"),
        ((0xF0, b""), "never sent by a client"),
        ((0x80, b"\x00\x01\x00\x01a\x00"), "reserved flags"),
        ((0x82, b"\x00\x01"), "without topic filters"),
        ((0x82, b"\x00\x01\x00\x01a\x03"), "requested QoS"),
        ((0xC1, b""), "reserved flags"),
    ],
)
def test_packets_that_break_mqtt_are_violations(packet: tuple[int, bytes], what: str) -> None:
    with pytest.raises(Violation, match=what):
        check_packet(*packet)


def test_packets_within_the_rules_pass() -> None:
    check_packet(*_publish(b"devices/d/telemetry"))
    check_packet(*_publish(b"a/" * 199 + b"b", qos=0))
    check_packet(0x82, b"\x00\x01\x00\x11devices/d/command\x01")
    check_packet(0xA2, b"\x00\x01\x00\x01a")
    check_packet(0xC0, b"")


@given(st.integers(0, 255), st.binary(max_size=64))
def test_any_bytes_are_either_a_packet_or_a_violation(first: int, body: bytes) -> None:
    for check in (parse_connect, check_packet):
        with contextlib.suppress(Violation):
            check(first, body)


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        (AuthRefusal.NO_CREDENTIALS, ConnackCode.BAD_USERNAME_OR_PASSWORD),
        (AuthRefusal.UNKNOWN_DEVICE, ConnackCode.BAD_USERNAME_OR_PASSWORD),
        (AuthRefusal.BAD_PASSWORD, ConnackCode.BAD_USERNAME_OR_PASSWORD),
        (AuthRefusal.DISABLED, ConnackCode.NOT_AUTHORIZED),
        (AuthRefusal.CLIENT_ID, ConnackCode.IDENTIFIER_REJECTED),
    ],
)
def test_each_refusal_has_its_connack_code(reason: AuthRefusal, code: ConnackCode) -> None:
    assert connack_code(AuthRefused(reason)) is code


def test_a_store_that_is_away_answers_server_unavailable() -> None:
    assert connack_code(StoreUnavailable("down")) is ConnackCode.SERVER_UNAVAILABLE
    assert describe_connack(4) == "bad user name or password"
    assert describe_connack(9) == "return code 9"


def test_the_amqtt_the_gate_relies_on_is_the_pinned_one() -> None:
    """Fails on an amqtt upgrade: re-check what the gate and the bridge rely on, then move the pin."""
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    pins = [d for group in (project["dependencies"], *project["optional-dependencies"].values()) for d in group]
    assert "amqtt==" + version("amqtt") in pins
    # Connections come in through "external" listeners (hub/broker/embedded.py).
    assert ListenerType("external") is ListenerType.EXTERNAL
    assert list(inspect.signature(Broker.external_connected).parameters) == [
        "self",
        "reader",
        "writer",
        "listener_name",
    ]
    # The bridge swaps a session's delivery queue to store a message before amqtt acknowledges it.
    assert hasattr(Session(), "delivered_message_queue")

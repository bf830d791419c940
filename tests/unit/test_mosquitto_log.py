"""Mosquitto's log lines that tell the hub a session started or ended."""

from __future__ import annotations

import pytest

from hub.broker.mosquitto.adapter import presence_event


@pytest.mark.parametrize(
    ("line", "event"),
    [
        ("New client connected from 127.0.0.1:43393 as dev-1 (p2, c1, k60, u'dev-1').", ("dev-1", True)),
        ("1700000000: New client connected from ::1:5 as d (p5, c0, k30, u'd').", ("d", True)),
        ("Client dev-1 disconnected.", ("dev-1", False)),
        ("Client dev-1 closed its connection.", ("dev-1", False)),
        ("Client dev-1 been disconnected by administrative action.", ("dev-1", False)),
        ("Client dev-1 has exceeded timeout, disconnecting.", ("dev-1", False)),
        ("Client dev-1 already connected, closing old connection.", ("dev-1", False)),
        ("Socket error on client dev-1, disconnecting.", ("dev-1", False)),
        # A refused login never started a session: the device may still be connected elsewhere.
        ("Client dev-1 disconnected, not authorised.", None),
        ("New connection from 127.0.0.1:46457 on port 1883.", None),
        ("New client connected from 127.0.0.1:1 as anon (p2, c1, k60).", None),
        ("garbage", None),
    ],
)
def test_presence_event(line: str, event: tuple[str, bool] | None) -> None:
    assert presence_event(line) == event

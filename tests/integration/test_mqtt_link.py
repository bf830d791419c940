"""The hub's broker link against a real Mosquitto: acks after handling, redelivery, reconnects, refusals."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.broker.mosquitto.link import BrokerAddress, MqttLink
from hub.errors import ConfigError
from hub.security.passwords import broker_hash
from hub.store.registry import DeviceSecret
from tests.helpers.mosquitto import SERVICE_PASSWORD, SERVICE_USER, ExternalMosquitto
from tests.helpers.ports import free_port
from tests.helpers.tls import self_signed
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)
TOPIC = "devices/link-test/telemetry"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[ExternalMosquitto]:
    mosquitto = ExternalMosquitto(tmp_path / "mosquitto")
    mosquitto.start([DeviceSecret("dev1", "default", "unused", enabled=True, broker_hash=broker_hash("dev1-secret"))])
    yield mosquitto
    mosquitto.stop()


def service(port: int) -> BrokerAddress:
    return BrokerAddress("127.0.0.1", port, SERVICE_USER, SERVICE_PASSWORD)


class Inbox:
    """A handler that records what it was given; it fails on the payloads in ``refuse``."""

    def __init__(self, refuse: frozenset[bytes] = frozenset()) -> None:
        self.got: asyncio.Queue[tuple[str, bytes, int]] = asyncio.Queue()
        self.refuse = refuse

    async def __call__(self, topic: str, payload: bytes, qos: int) -> None:
        if payload in self.refuse:
            raise RuntimeError("handler failed on purpose")
        await self.got.put((topic, payload, qos))

    async def next(self) -> tuple[str, bytes, int]:
        return await asyncio.wait_for(self.got.get(), 10)


@pytest.mark.allow_logged_exceptions  # the handler's failure is logged with its traceback, as it should be
async def test_a_message_is_acknowledged_only_after_its_handler_succeeded(broker: ExternalMosquitto) -> None:
    failing = Inbox(refuse=frozenset({b"first"}))
    async with MqttLink(service(broker.port), "link-a", [TOPIC], failing) as link:
        await link.publish(TOPIC, b"first")
        await link.publish(TOPIC, b"second")
        assert await failing.next() == (TOPIC, b"second", 1)
    # Same session again: the broker still holds the message whose handler failed, and only that one.
    inbox = Inbox()
    async with MqttLink(service(broker.port), "link-a", [TOPIC], inbox) as link:
        assert await inbox.next() == (TOPIC, b"first", 1)
        await link.publish(TOPIC, b"third", qos=0)
        assert await inbox.next() == (TOPIC, b"third", 0)
        assert inbox.got.empty()


async def test_a_publish_waits_out_a_broker_restart_and_the_link_comes_back(broker: ExternalMosquitto) -> None:
    inbox = Inbox()
    reconnects = asyncio.Queue[None]()
    async with MqttLink(service(broker.port), "link-b", [TOPIC], inbox, lambda: reconnects.put_nowait(None)) as link:
        broker.stop()
        pending = asyncio.create_task(link.publish(TOPIC, b"while away"))
        await asyncio.sleep(0)  # the publish is queued on the link before the broker is back
        assert not pending.done()
        broker.start()
        await asyncio.wait_for(reconnects.get(), 20)
        assert link.is_connected
        await asyncio.wait_for(pending, 10)
        assert await inbox.next() == (TOPIC, b"while away", 1)


async def test_a_link_with_its_hands_full_stops_reading_and_then_takes_everything(
    broker: ExternalMosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "hub.broker.mosquitto.link")
    release = asyncio.Event()
    inbox = Inbox()

    async def slow(topic: str, payload: bytes, qos: int) -> None:
        await release.wait()
        await inbox(topic, payload, qos)

    # The broker sends up to 20 unacknowledged messages (its default), far more than 4 in hand.
    async with (
        MqttLink(service(broker.port), "link-d", [TOPIC], slow, max_in_hand=4),
        MqttLink(service(broker.port), "link-d-sender", [], Inbox()) as sender,
    ):
        await asyncio.gather(*(sender.publish(TOPIC, b"%d" % i) for i in range(50)))
        release.set()
        got = {(await inbox.next())[1] for _ in range(50)}
    assert got == {b"%d" % i for i in range(50)}
    assert "reading from the broker paused" in caplog.text


async def test_pings_keep_an_idle_link_and_a_broker_that_stops_answering_is_left_and_found_again(
    broker: ExternalMosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "hub.broker.mosquitto.link")
    reconnects = asyncio.Queue[None]()
    async with MqttLink(
        service(broker.port), "link-e", [TOPIC], Inbox(), lambda: reconnects.put_nowait(None), keepalive_s=1
    ) as link:
        # Three keepalive periods of silence: the broker drops a client quiet for one and a half, pings prevent it.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reconnects.get(), 3)
        assert link.is_connected and "lost the MQTT broker" not in caplog.text
        assert broker.proc is not None
        broker.proc.send_signal(signal.SIGSTOP)
        try:

            async def left() -> bool:
                return not link.is_connected

            await eventually(left, within=10, what="the link to leave a broker that stopped answering")
            assert "stopped answering pings" in caplog.text
        finally:
            broker.proc.send_signal(signal.SIGCONT)
        await asyncio.wait_for(reconnects.get(), 30)
        assert link.is_connected


async def test_bad_credentials_an_absent_broker_and_a_refused_subscription_are_config_errors(
    broker: ExternalMosquitto,
) -> None:
    wrong = BrokerAddress("127.0.0.1", broker.port, SERVICE_USER, "not-the-password")
    with pytest.raises(ConfigError, match="refused the hub's connection"):
        async with MqttLink(wrong, "link-c", [TOPIC], Inbox()):
            pass
    with pytest.raises(ConfigError, match="cannot reach the MQTT broker"):
        async with MqttLink(service(free_port()), "link-c", [TOPIC], Inbox()):
            pass
    device = BrokerAddress("127.0.0.1", broker.port, "dev1", "dev1-secret")
    with pytest.raises(ConfigError, match="refused the hub's subscription to devices/other/telemetry"):
        async with MqttLink(device, "dev1", ["devices/other/telemetry"], Inbox()):
            pass
    assert "not-the-password" not in repr(wrong)


async def test_the_link_speaks_tls_and_refuses_a_broker_it_cannot_verify(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    mosquitto = ExternalMosquitto(tmp_path / "tls-mosquitto", tls=(cert, key))
    mosquitto.start()
    try:
        inbox = Inbox()
        address = BrokerAddress(
            "127.0.0.1", mosquitto.tls_port, SERVICE_USER, SERVICE_PASSWORD, tls=True, ca_file=str(cert)
        )
        async with MqttLink(address, "link-tls", [TOPIC], inbox) as link:
            await link.publish(TOPIC, b"over tls")
            assert await inbox.next() == (TOPIC, b"over tls", 1)
        untrusted = BrokerAddress("127.0.0.1", mosquitto.tls_port, SERVICE_USER, SERVICE_PASSWORD, tls=True)
        with pytest.raises(ConfigError, match="certificate verify failed"):
            async with MqttLink(untrusted, "link-tls", [TOPIC], Inbox()):
                pass
    finally:
        mosquitto.stop()

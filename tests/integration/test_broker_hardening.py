"""Attacks on the MQTT listener, against both brokers where they apply.

A session take-over by someone else's CONNECT, revocation of a connection that survived one,
connections that never send a CONNECT, other protocol levels and packets that break MQTT 3.1.1.
The embedded broker's gate (hub/broker/gate.py) answers these; Mosquitto does so itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import socket
import time
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud.runtime import HubRuntime
from hub.broker.mosquitto import packets
from hub.broker.wire import encode_length
from hub.errors import ConfigError
from tests.helpers.hub import Api, running_hub
from tests.helpers.mqtt import TIMEOUT, TestDevice
from tests.helpers.process import cli_env, logged_in, running_hub_process
from tests.helpers.waiting import eventually, wait_until

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def hub(each_broker_hub: HubRuntime) -> HubRuntime:
    return each_broker_hub


async def _connect(device: TestDevice, *, expect_success: bool = True) -> TestDevice:
    return await asyncio.to_thread(device.connect, expect_success=expect_success)


async def _desired_reaches(api: Api, device: TestDevice, value: int) -> None:
    r = await api.http.put(f"/api/v1/devices/{device.client_id}/state/desired", json={"probe": value})
    assert r.status_code == 200, r.text
    while True:
        message = await asyncio.to_thread(device.next_message)
        if orjson.loads(message.payload).get("state") == {"probe": value}:
            return


@pytest.mark.parametrize("attacker", ["no_credentials", "wrong_password", "own_credentials"])
async def test_a_refused_connect_with_a_victims_client_id_leaves_the_victim_alone(
    hub: HubRuntime, api: Api, unique_id: str, attacker: str
) -> None:
    secret = (await api.create_device(unique_id))["credentials"]["password"]
    victim = await _connect(TestDevice(hub.mqtt_port, unique_id, secret))
    await asyncio.to_thread(victim.subscribe, f"devices/{unique_id}/state/desired")
    credentials: tuple[str | None, str | None] = {
        "no_credentials": (None, None),
        "wrong_password": (unique_id, "not-the-secret"),
        "own_credentials": (f"{unique_id}-x", (await api.create_device(f"{unique_id}-x"))["credentials"]["password"]),
    }[attacker]
    intruder = await _connect(TestDevice(hub.mqtt_port, *credentials, client_id=unique_id), expect_success=False)
    try:
        assert intruder.refused
        # The victim's session is whole: desired state reaches it and the API still says online.
        await _desired_reaches(api, victim, 1)
        assert not victim.disconnected.is_set()
        assert (await api.http.get(f"/api/v1/devices/{unique_id}")).json()["status"] == "online"
        # And revocation still reaches its connection at once.
        assert (await api.http.patch(f"/api/v1/devices/{unique_id}", json={"enabled": False})).status_code == 200
        assert await asyncio.to_thread(victim.disconnected.wait, TIMEOUT), "disabled device kept its connection"
    finally:
        await asyncio.to_thread(intruder.close)
        await asyncio.to_thread(victim.close)


async def test_delete_ends_the_connection_before_the_id_is_registered_again(
    hub: HubRuntime, api: Api, unique_id: str
) -> None:
    secret = (await api.create_device(unique_id))["credentials"]["password"]
    victim = await _connect(TestDevice(hub.mqtt_port, unique_id, secret))
    intruder = await _connect(TestDevice(hub.mqtt_port, None, None, client_id=unique_id), expect_success=False)
    try:
        assert (await api.http.delete(f"/api/v1/devices/{unique_id}")).status_code == 204
        assert await asyncio.to_thread(victim.disconnected.wait, TIMEOUT), "deleted device kept its connection"
        # Only now may the id belong to someone else: nothing of the old connection is left to write as it.
        tenant = (await api.http.post("/api/v1/tenants", json={"id": f"t-{unique_id}", "name": "other"})).json()
        again = await api.http.post("/api/v1/devices", json={"id": unique_id, "name": "new", "tenant": tenant["id"]})
        assert again.status_code == 201, again.text
        assert not victim.client.is_connected()
    finally:
        await asyncio.to_thread(intruder.close)
        await asyncio.to_thread(victim.close)


def _raw(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


async def _recv(sock: socket.socket, n: int) -> bytes:
    # Off the event loop: the hub under test runs on it.
    return await asyncio.to_thread(sock.recv, n)


def _closed_by_server(sock: socket.socket) -> bool:
    """Read until the server closes; True when it did (b"" or a reset) within the timeout."""
    with contextlib.suppress(ConnectionResetError):
        while sock.recv(4096):
            pass
    return True


def _mqtt5_connect(client_id: str) -> bytes:
    body = b"\x00\x04MQTT\x05\x02\x00\x3c\x00" + len(client_id).to_bytes(2, "big") + client_id.encode()
    return b"\x10" + encode_length(len(body)) + body


async def test_an_mqtt5_connect_is_refused_at_once_with_return_code_1(tmp_path: Path) -> None:
    """The embedded broker speaks MQTT 3.1.1 only (Mosquitto speaks 5 as well)."""
    async with running_hub(tmp_path / "data") as hub:
        await _refuses_mqtt5(hub)
        assert _dropped(hub, "unsupported_protocol") == 2


async def _refuses_mqtt5(hub: HubRuntime) -> None:
    with _raw(hub.mqtt_port) as sock:
        sock.sendall(_mqtt5_connect("v5-client"))
        assert await _recv(sock, 4) == b"\x20\x02\x00\x01"
        assert await asyncio.to_thread(_closed_by_server, sock)
    # paho names the reason for its user.
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="v5-client", protocol=mqtt.MQTTv5)
    answered: asyncio.Queue[str] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    client.on_connect = lambda _c, _u, _f, reason, _p: loop.call_soon_threadsafe(answered.put_nowait, str(reason))
    client.connect("127.0.0.1", hub.mqtt_port)
    client.loop_start()
    try:
        async with asyncio.timeout(TIMEOUT):
            assert await answered.get() == "Unsupported protocol version"
    finally:
        client.loop_stop()


def _dropped(hub: HubRuntime, reason: str) -> int:
    return hub.services.metrics.drops()[reason]


def _open_connections(hub: HubRuntime) -> int:
    return int(hub.services.metrics.registry.get_sample_value("fieldhub_mqtt_connections_open") or 0)


@pytest.mark.parametrize(
    ("name", "packet"),
    [
        (
            "invalid UTF-8",
            packets.publish("x", b"1", qos=1, retain=False, packet_id=1).replace(b"\x00\x01x", b"\x00\x01\xff"),
        ),
        ("U+0000", packets.publish("devices/\x00/telemetry", b"{}", qos=1, retain=False, packet_id=1)),
        ("a wildcard", packets.publish("devices/+/telemetry", b"{}", qos=1, retain=False, packet_id=1)),
        ("10,000 levels", packets.publish("a/" * 10_000 + "b", b"{}", qos=1, retain=False, packet_id=1)),
        ("a second CONNECT", packets.connect("x", "u", "p", 30, clean_session=True)),
    ],
)
async def test_a_packet_that_breaks_mqtt_ends_the_connection_and_is_not_acknowledged(
    hub: HubRuntime, api: Api, unique_id: str, name: str, packet: bytes
) -> None:
    secret = (await api.create_device(unique_id))["credentials"]["password"]
    embedded = hub.settings.broker == "embedded"
    before = _dropped(hub, "protocol_error") if embedded else 0
    with _raw(hub.mqtt_port) as sock:
        sock.sendall(packets.connect(unique_id, unique_id, secret, 30, clean_session=True))
        assert await _recv(sock, 4) == b"\x20\x02\x00\x00"
        sock.sendall(packet)
        # No PUBACK: the server closes the connection (MQTT-3.3.2-2, 1.5.3-1, 1.5.3-2, 3.1.0-2).
        with contextlib.suppress(ConnectionResetError):
            assert await _recv(sock, 4096) == b"", f"{name}: the broker answered"
    if embedded:
        assert _dropped(hub, "protocol_error") == before + 1


async def test_connections_that_never_connect_are_closed_and_counted(tmp_path_factory: pytest.TempPathFactory) -> None:
    data = tmp_path_factory.mktemp("gate") / "data"
    async with running_hub(data, embedded={"connect_timeout_s": 0.5}) as hub:
        before = {reason: _dropped(hub, reason) for reason in ("connect_timeout", "protocol_error")}
        silent, partial, garbage = _raw(hub.mqtt_port), _raw(hub.mqtt_port), _raw(hub.mqtt_port)
        partial.sendall(packets.connect("x", "u", "p", 30, clean_session=True)[:7])
        garbage.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        for sock in (silent, partial, garbage):
            with sock:
                assert await asyncio.to_thread(_closed_by_server, sock)
        assert _dropped(hub, "connect_timeout") == before["connect_timeout"] + 2
        assert _dropped(hub, "protocol_error") == before["protocol_error"] + 1
        assert _open_connections(hub) == 0


async def test_connections_beyond_the_per_address_limit_are_closed_at_once(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    data = tmp_path_factory.mktemp("gate") / "data"
    async with running_hub(data, embedded={"max_connections_per_address": 3}) as hub:
        sockets = [_raw(hub.mqtt_port) for _ in range(3)]
        try:

            async def held() -> bool:
                return _open_connections(hub) == 3

            await eventually(held, what="three connections held")
            with _raw(hub.mqtt_port) as fourth:
                assert await asyncio.to_thread(_closed_by_server, fourth)
            assert _dropped(hub, "too_many_from_address") == 1
        finally:
            for sock in sockets:
                sock.close()


def _closed_by_server_all(sockets: list[socket.socket], within: float) -> int:
    """Wait until the server closed each of ``sockets``; return how many it did within ``within`` seconds."""
    selector = selectors.DefaultSelector()
    for sock in sockets:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    closed, deadline = 0, time.monotonic() + within
    while closed < len(sockets) and (left := deadline - time.monotonic()) > 0:
        for key, _ in selector.select(timeout=left):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                if sock.recv(4096):
                    continue
            except ConnectionResetError:
                pass
            selector.unregister(sock)
            closed += 1
    selector.close()
    return closed


def _open_files(pid: int) -> int:
    return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())


@pytest.mark.timeout(120)
def test_1100_connections_that_never_connect_under_1024_open_files_leave_the_hub_serving(tmp_path: Path) -> None:
    env = cli_env(FIELDHUB_EMBEDDED__CONNECT_TIMEOUT_S="2")
    with running_hub_process(tmp_path / "data", env=env, open_files=1024) as hub, logged_in(hub.url) as http:
        baseline = _open_files(hub.proc.pid)
        partial_connect = packets.connect("x", "u", "p", 30, clean_session=True)[:9]
        flood = []
        for i in range(1100):
            sock = socket.create_connection(("127.0.0.1", hub.mqtt_port), timeout=TIMEOUT)
            if i % 2:
                sock.sendall(partial_connect)
            flood.append(sock)
        try:
            # Held connections stay below the open-file limit: the API goes on answering meanwhile.
            assert http.get("/healthz").status_code == 200
            assert _closed_by_server_all(flood, within=30) == len(flood)
        finally:
            for sock in flood:
                sock.close()
        settled = wait_until(lambda: _open_files(hub.proc.pid) <= baseline + 5, within=TIMEOUT)
        assert settled, f"{_open_files(hub.proc.pid)} files open, {baseline} before the flood"
        dropped = http.get("/api/v1/ingest/stats").json()["dropped"]
        # 1,024 files less the 128 kept for the rest of the hub hold 896 connections; the rest wait for none.
        assert dropped["connect_timeout"] + dropped["too_many_connections"] == len(flood)
        assert dropped["too_many_connections"] >= len(flood) - 896
        # And devices connect as before.
        created = http.post("/api/v1/devices", json={"id": "after-flood", "name": "after"})
        device = TestDevice(hub.mqtt_port, "after-flood", created.json()["credentials"]["password"]).connect()
        try:
            device.publish("devices/after-flood/telemetry", b'{"values": {"t": 1}}')
        finally:
            device.close()


async def test_refusals_carry_the_connack_code_that_says_why(tmp_path: Path) -> None:
    async with running_hub(tmp_path / "data") as hub:
        api = await Api.login(hub.url)
        try:
            secret = (await api.create_device("coded"))["credentials"]["password"]
            disabled = (await api.create_device("off"))["credentials"]["password"]
            assert (await api.http.patch("/api/v1/devices/off", json={"enabled": False})).status_code == 200
        finally:
            await api.close()
        cases = {
            "Bad user name or password": TestDevice(hub.mqtt_port, "coded", "wrong", "coded"),
            "Client identifier not valid": TestDevice(hub.mqtt_port, "coded", secret, "someone-else"),
            "Not authorized": TestDevice(hub.mqtt_port, "off", disabled, "off"),
        }
        for expected, device in cases.items():
            await _connect(device, expect_success=False)
            await asyncio.to_thread(device.close)
            assert str(device.reason) == expected


async def test_a_packet_above_the_size_limit_ends_the_connection(tmp_path: Path) -> None:
    async with running_hub(tmp_path / "data", ingest={"max_payload_bytes": 1024}) as hub:
        api = await Api.login(hub.url)
        try:
            secret = (await api.create_device("big"))["credentials"]["password"]
        finally:
            await api.close()
        with _raw(hub.mqtt_port) as sock:
            sock.sendall(packets.connect("big", "big", secret, 30, clean_session=True))
            assert await _recv(sock, 4) == b"\x20\x02\x00\x00"
            # The limit is the largest payload plus 64 KiB; only the header is sent, the gate goes by it.
            sock.sendall(b"\x32" + encode_length(1024 + 64 * 1024 + 1))
            with contextlib.suppress(ConnectionResetError):
                assert await _recv(sock, 4096) == b""
        assert _dropped(hub, "protocol_error") == 1


async def test_a_taken_mqtt_port_is_one_clear_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen for MQTT on 127.0.0.1:{port}: .*--mqtt-port"):
            async with running_hub(tmp_path / "data", mqtt_port=port):
                pass
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged beside the error"

"""compose/'s Mosquitto, run for real: its config, the account mosquitto-init seeds, and its healthcheck.

The container paths of compose/mosquitto/mosquitto.conf are mapped to a temporary directory and the listeners
to free ports on 127.0.0.1; every other line is the compose file's own.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from hub.broker.mosquitto.managed import find_plugin
from tests.helpers.hub import Api, running_hub
from tests.helpers.mqtt import TestDevice
from tests.helpers.ports import free_port, wait_listening
from tests.helpers.tls import self_signed

pytestmark = pytest.mark.timeout(60)

COMPOSE = Path(__file__).resolve().parents[2] / "compose"
HUB_USER = "fieldhub"
HUB_PASSWORD = "compose-test-hub-password-0123456789"


@dataclass(frozen=True, slots=True)
class ComposeMosquitto:
    port: int
    tls_port: int
    ca_file: Path


def local_config(conf: str, data: Path, cert: Path, key: Path, port: int, tls_port: int) -> str:
    """compose's mosquitto.conf with its container paths and listeners made local."""
    paths = {
        "/etc/mosquitto/certs/mqtt.crt": str(cert),
        "/etc/mosquitto/certs/mqtt.key": str(key),
        "/usr/lib/mosquitto_dynamic_security.so": str(find_plugin()),
        "/mosquitto/data/": f"{data}/",
        "listener 1883": f"listener {port} 127.0.0.1",
        "listener 8883": f"listener {tls_port} 127.0.0.1",
    }
    for container, local in paths.items():
        assert container in conf, f"compose/mosquitto/mosquitto.conf no longer has {container!r}"
        conf = conf.replace(container, local)
    # As root, Mosquitto would switch to its own user (uid 1883 in its image, as the compose README says).
    return f"user {pwd.getpwuid(os.getuid()).pw_name}\n{conf}"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeMosquitto]:
    root = tmp_path_factory.mktemp("compose-mosquitto")
    data = root / "data"
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDHUB_")}
    env |= {
        "FIELDHUB_BROKER": "mqtt://mosquitto:1883",
        "FIELDHUB_MOSQUITTO__USERNAME": HUB_USER,
        "FIELDHUB_MOSQUITTO__PASSWORD": HUB_PASSWORD,
    }
    seeded = subprocess.run(
        [sys.executable, str(COMPOSE / "mosquitto" / "seed_dynsec.py"), str(data / "dynamic-security.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr
    cert, key = self_signed(root)
    port, tls_port = free_port(), free_port()
    conf = root / "mosquitto.conf"
    conf.write_text(
        local_config((COMPOSE / "mosquitto" / "mosquitto.conf").read_text(), data, cert, key, port, tls_port)
    )
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(proc, port, "mosquitto")
        yield ComposeMosquitto(port, tls_port, cert)
    finally:
        proc.terminate()
        proc.wait(10)


def healthcheck(port: int) -> int:
    """The exit code of compose's Mosquitto healthcheck against ``port``."""
    compose = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())
    kind, command = compose["services"]["mosquitto"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    command = command.replace("$$", "$")  # Compose's escape of a literal $
    assert "-p 1883" in command
    return subprocess.run(
        ["sh", "-c", command.replace("-p 1883", f"-p {port}")], capture_output=True, timeout=30, check=False
    ).returncode


async def test_the_hub_administers_the_seeded_broker_and_its_devices_connect(
    broker: ComposeMosquitto, tmp_path: Path
) -> None:
    settings = {
        "broker": f"mqtt://127.0.0.1:{broker.port}",
        "mosquitto": {"username": HUB_USER, "password": HUB_PASSWORD},
    }
    async with running_hub(tmp_path / "hub", **settings) as hub:
        api = await Api.login(hub.url)
        try:
            secret = (await api.create_device("compose-device"))["credentials"]["password"]
        finally:
            await api.close()
        device = TestDevice(broker.port, "compose-device", secret)
        intruder = TestDevice(broker.port, "compose-device", "not-the-secret", client_id="compose-device")
        try:
            await asyncio.to_thread(device.connect)
            await asyncio.to_thread(intruder.connect, expect_success=False)
            assert not device.refused
            assert intruder.refused
        finally:
            await asyncio.to_thread(device.close)
            await asyncio.to_thread(intruder.close)


def test_the_healthcheck_tells_a_running_broker_from_none(broker: ComposeMosquitto) -> None:
    assert healthcheck(broker.port) == 0
    assert healthcheck(free_port()) != 0


def test_devices_reach_the_tls_listener(broker: ComposeMosquitto) -> None:
    # Anonymous, so refused, but only after the TLS handshake with the compose listener's certificate succeeded.
    tls = ["-h", "127.0.0.1", "-p", str(broker.tls_port), "--cafile", str(broker.ca_file)]
    done = subprocess.run(
        ["mosquitto_sub", *tls, "-t", "x", "-C", "1", "-W", "5"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "not authorised" in done.stderr + done.stdout

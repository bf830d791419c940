"""A managed Mosquitto does not outlive its hub: parent-death signal, pid file, ports held by others.

A hub killed with ``kill -9`` used to leave its broker running: the next hub's broker could not bind,
the old one answered the start-up check and kept taking the devices' traffic unmanaged.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from hub import processes
from hub.broker.mosquitto import managed
from hub.broker.mosquitto.managed import ManagedMosquitto
from hub.broker.mosquitto.pidfile import PidFile, PidRecord
from hub.errors import ConfigError
from tests.helpers.hub import Api, running_hub
from tests.helpers.mqtt import TestDevice
from tests.helpers.ports import free_port
from tests.helpers.process import fieldhub, logged_in, running_hub_process, start_hub
from tests.helpers.waiting import eventually, wait_until

pytestmark = pytest.mark.timeout(90)

#: A hub as it was before brokers were tied to it: starts Mosquitto from the managed configuration,
#: writes the pid file, says the broker's pid and waits to be killed.
_UNTIED_HUB = """
import shutil, signal, subprocess, sys
from pathlib import Path
from hub.broker.mosquitto.pidfile import PidFile
workdir = Path(sys.argv[1])
argv = [shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin"), "-c", str(workdir / "mosquitto.conf")]
broker = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
PidFile(workdir / "mosquitto.pid").write(broker.pid, argv)
print(broker.pid, flush=True)
signal.pause()
"""


def pid_file(data: Path) -> PidFile:
    return PidFile(data / "mosquitto" / "mosquitto.pid")


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not yet reaped by its new parent, does not)."""
    return processes.facts(pid) is not None


def listens(pid: int, port: int) -> bool:
    return port in processes.listening_ports(pid)


@contextmanager
def listener() -> Iterator[int]:
    """A plain TCP socket listening on a free loopback port: some other program holding the port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def publish_and_check_stored(url: str, port: int, device_id: str) -> None:
    """A new device publishes on ``port``; the hub at ``url`` must store it (the traffic reaches that hub)."""
    with logged_in(url) as http:
        created = http.post("/api/v1/devices", json={"id": device_id, "name": device_id})
        assert created.status_code == 201, created.text
        device = TestDevice(port, device_id, created.json()["credentials"]["password"]).connect()
        try:
            device.publish(f"devices/{device_id}/telemetry", b'{"values": {"through": 1}}')
        finally:
            device.close()

        def stored() -> bool:
            return "through" in http.get(f"/api/v1/devices/{device_id}/latest").json()["values"]

        assert wait_until(stored, 20), "a message through the hub's own broker was not stored"


def test_a_hub_killed_with_sigkill_takes_its_broker_with_it(tmp_path: Path, unique_id: str) -> None:
    data, port = tmp_path / "data", free_port()
    hub = start_hub(data, "--broker", "mosquitto", "--mqtt-port", str(port))
    try:
        record = pid_file(data).read()
        assert record is not None and record.hub_pid == hub.proc.pid and record.broker_running()
        assert listens(record.pid, port)
    finally:
        hub.stop(signal.SIGKILL)
    # Nobody stops it: the kernel's parent-death signal does.
    if not wait_until(lambda: not running(record.pid), 15):
        os.kill(record.pid, signal.SIGKILL)
        pytest.fail(f"Mosquitto (pid {record.pid}) outlived its hub")

    with running_hub_process(data, "--broker", "mosquitto", "--mqtt-port", str(port)) as again:
        assert again.mqtt_port == port
        now = pid_file(data).read()
        assert now is not None and now.pid != record.pid and listens(now.pid, port)
        publish_and_check_stored(again.url, port, unique_id)
        output = again.stop()
    assert again.proc.returncode == 0 and "Traceback" not in output
    assert not pid_file(data).path.exists(), "a clean stop removes the pid file"


async def test_a_broker_that_survived_its_hub_is_stopped_and_replaced(
    tmp_path: Path, unique_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    data, port = tmp_path / "data", free_port()
    # A first run writes the managed configuration, the accounts and the service password.
    async with running_hub(data, broker="mosquitto", mqtt_port=port) as hub:
        api = await Api.login(hub.url)
        secret = (await api.create_device(unique_id))["credentials"]["password"]
        await api.close()
    assert not pid_file(data).path.exists()

    # Then a hub that had no parent-death signal to give (another system, or an older Fieldhub) is killed.
    untied = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _UNTIED_HUB, str(data / "mosquitto"), stdout=subprocess.PIPE
    )
    assert untied.stdout is not None
    async with asyncio.timeout(20):
        stale = int(await untied.stdout.readline())
    try:
        assert await asyncio.to_thread(wait_until, lambda: listens(stale, port), 10), "the stale broker never listened"
        untied.kill()
        async with asyncio.timeout(10):
            await untied.wait()
        assert running(stale), "the broker should have outlived a hub that did not tie it"

        async with running_hub(data, broker="mosquitto", mqtt_port=port) as hub:
            assert not running(stale), "the stale broker is still running"
            assert f"stopping the managed Mosquitto (pid {stale})" in caplog.text
            record = pid_file(data).read()
            assert record is not None and record.pid != stale and record.hub_pid == os.getpid()
            assert hub.mqtt_port == port and listens(record.pid, port)

            # The data flows through the new broker: the device's account came back with it.
            device = await asyncio.to_thread(TestDevice(port, unique_id, secret).connect)
            try:
                await asyncio.to_thread(device.publish, f"devices/{unique_id}/telemetry", b'{"values": {"new": 1}}')
            finally:
                await asyncio.to_thread(device.close)
            api = await Api.login(hub.url)
            try:

                async def stored() -> bool:
                    r = await api.http.get(f"/api/v1/devices/{unique_id}/latest")
                    return "new" in r.json()["values"]

                await eventually(stored, within=20, what="a message through the new broker stored")
            finally:
                await api.close()
        assert not pid_file(data).path.exists()
    finally:
        if untied.returncode is None:
            untied.kill()
            await untied.wait()
        with suppress(ProcessLookupError):
            if running(stale):
                os.kill(stale, signal.SIGKILL)


def test_a_port_held_by_another_program_refuses_the_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with listener() as port:
        # fieldhub()'s timeout fails the test unless the hub gives up promptly.
        done = fieldhub(
            *("up", "--broker", "mosquitto", "--data-dir", str(data), "--mqtt-port", str(port), "--http-port", "0"),
            timeout=30,
        )
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    me = processes.facts(os.getpid())
    assert me is not None
    program = Path(me.argv[0]).name
    assert last == (
        f"fieldhub up: MQTT port 127.0.0.1:{port} is already in use by pid {os.getpid()} ({program}); "
        "stop that program or set mqtt_port (--mqtt-port, FIELDHUB_MQTT_PORT) to a free port"
    )
    assert "Traceback" not in done.stderr
    assert not pid_file(data).path.exists(), "no Mosquitto was started"


async def test_a_broker_that_could_not_bind_is_not_taken_for_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if another program took the port between the hub's check and Mosquitto's bind: the port
    # answers (the other program), but our Mosquitto exits. That must fail the start.
    monkeypatch.setattr(managed, "port_in_use", lambda _host, _port: False)
    with listener() as port:
        broker = ManagedMosquitto(tmp_path, "127.0.0.1", port, service_user="svc", service_password="pw", devices=[])
        with pytest.raises(ConfigError, match=r"Mosquitto exited at start .*Address already in use"):
            async with broker:
                pass
    assert not (tmp_path / "mosquitto.pid").exists()


@contextmanager
def sleeper(conf: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A harmless process whose command line ends like a managed broker's (``-c <conf>``)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "-c", str(conf)])
    try:
        assert wait_until(lambda: (seen := processes.facts(proc.pid)) is not None and seen.argv[-1] == str(conf), 10)
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


async def test_the_pid_file_stops_only_the_broker_it_names(tmp_path: Path) -> None:
    conf, pids = tmp_path / "mosquitto.conf", PidFile(tmp_path / "mosquitto.pid")
    me = os.getpid()
    my_start = processes.start_time(me)
    assert my_start is not None
    with sleeper(conf) as proc:
        seen = processes.facts(proc.pid)
        assert seen is not None
        recycled = [
            # Its id, but an earlier process's start time: the id was recycled since.
            PidRecord(proc.pid, seen.argv, seen.started - 1, me, my_start - 1),
            # Its id and start time, but another command line.
            PidRecord(proc.pid, ("/usr/sbin/mosquitto", "-c", str(conf)), seen.started, me, my_start - 1),
            # It, but under another data directory's configuration.
            PidRecord(proc.pid, (*seen.argv[:-1], "/elsewhere.conf"), seen.started, me, my_start - 1),
        ]
        for record in recycled:
            pids.path.write_bytes(record.to_json())
            await pids.stop_stale(conf, timeout_s=5)
            assert proc.poll() is None, f"stopped a process that {record} does not name"
            assert not pids.path.exists()

        # Its hub still runs (this process): two hubs on one data directory, refused.
        pids.path.write_bytes(PidRecord(proc.pid, seen.argv, seen.started, me, my_start).to_json())
        with pytest.raises(ConfigError, match=f"belongs to a hub that is still running \\(pid {me}\\)"):
            await pids.stop_stale(conf, timeout_s=5)
        assert proc.poll() is None

        # The very process, left by a hub that is gone: stopped.
        pids.path.write_bytes(PidRecord(proc.pid, seen.argv, seen.started, me, my_start - 1).to_json())
        await pids.stop_stale(conf, timeout_s=5)
        assert await asyncio.to_thread(proc.wait, 10) == -signal.SIGTERM
        assert not pids.path.exists()

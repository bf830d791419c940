"""``fieldhub sim`` cleans up after itself: a real process against a real hub, stopped every way a person stops it."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid

import httpx
import pytest

from tests.helpers.mqtt import TestDevice
from tests.helpers.process import HubProcess, cli_env, fieldhub, logged_in
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def prefix() -> str:
    return f"sim{uuid.uuid4().hex[:6]}"


def _sim_args(hub: HubProcess, prefix: str, devices: int, *extra: str) -> list[str]:
    return [
        *("sim", "--hub", hub.url, "--devices", str(devices), "--rate", "20", "--prefix", prefix),
        *("--mqtt", f"mqtt://127.0.0.1:{hub.mqtt_port}", *extra),
    ]


def _ids(http: httpx.Client, prefix: str) -> set[str]:
    items = http.get("/api/v1/devices", params={"label": "simulated=true", "limit": 1000}).json()["items"]
    return {d["id"] for d in items if d["id"].startswith(f"{prefix}-")}


def _all_stored(http: httpx.Client, ids: set[str]) -> bool:
    return all(http.get(f"/api/v1/devices/{i}/latest").json().get("values") for i in ids)


def test_sim_removes_its_devices_when_its_duration_ends(hub_process: HubProcess, prefix: str) -> None:
    done = fieldhub(*_sim_args(hub_process, prefix, 3, "--duration", "1.5"))
    assert done.returncode == 0, done.stderr
    last = [line for line in done.stdout.splitlines() if "acked=" in line][-1]
    assert int(dict(p.split("=") for p in last.split() if "=" in p)["acked"]) >= 3, last
    assert "removed 3 simulated devices" in done.stdout
    with logged_in(hub_process.url) as http:
        assert _ids(http, prefix) == set()
        assert http.get(f"/api/v1/devices/{prefix}-0001").status_code == 404


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_sim_removes_its_devices_when_stopped(hub_process: HubProcess, prefix: str, sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloud.cli.main", *_sim_args(hub_process, prefix, 2)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    try:
        with logged_in(hub_process.url) as http:
            expected = {f"{prefix}-0001", f"{prefix}-0002"}
            # Running: registered and publishing (each has stored a reading) before it is stopped.
            assert wait_until(lambda: _ids(http, prefix) == expected and _all_stored(http, expected), 30)
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err
            assert "removed 2 simulated devices" in out and "Traceback" not in err
            assert _ids(http, prefix) == set()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_keep_leaves_the_devices_and_a_later_run_takes_them_over(hub_process: HubProcess, prefix: str) -> None:
    kept = fieldhub(*_sim_args(hub_process, prefix, 2, "--duration", "0.5", "--keep"))
    assert kept.returncode == 0, kept.stderr
    assert "left 2 simulated devices registered (--keep)" in kept.stdout
    with logged_in(hub_process.url) as http:
        assert _ids(http, prefix) == {f"{prefix}-0001", f"{prefix}-0002"}
        # A later run adopts the leftovers (new secrets) and, without --keep, removes them at the end.
        again = fieldhub(*_sim_args(hub_process, prefix, 2, "--duration", "0.5"))
        assert again.returncode == 0, again.stderr
        assert "removed 2 simulated devices" in again.stdout
        assert _ids(http, prefix) == set()


def test_a_device_that_is_not_simulated_is_never_taken_over(hub_process: HubProcess, prefix: str) -> None:
    with logged_in(hub_process.url) as http:
        real = http.post("/api/v1/devices", json={"id": f"{prefix}-0002", "name": "A real device"})
        assert real.status_code == 201, real.text
        secret = real.json()["credentials"]["password"]
        done = fieldhub(*_sim_args(hub_process, prefix, 3, "--duration", "0.5"))
        assert done.returncode == 1
        assert f"device '{prefix}-0002' exists and is not a simulated one" in done.stderr
        # What it registered before it met the real device is removed; the real device keeps its secret.
        assert "removed 1 simulated device " in done.stdout
        assert _ids(http, prefix) == set()
        assert http.get(f"/api/v1/devices/{prefix}-0002").status_code == 200
    TestDevice(hub_process.mqtt_port, f"{prefix}-0002", secret).connect().close()


def test_sim_help_names_keep() -> None:
    done = fieldhub("sim", "--help", env=cli_env())
    assert done.returncode == 0 and "--keep" in done.stdout

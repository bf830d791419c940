"""The ``fieldhub`` command as users run it: real processes, a real hub, real MQTT."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.helpers.mosquitto import SERVICE_USER, ExternalMosquitto
from tests.helpers.mqtt import TestDevice
from tests.helpers.process import HubProcess, cli_env, fieldhub, logged_in, start_hub
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.timeout(120)


def _cli(hub: HubProcess, *args: str, **env: str) -> tuple[int, str, str]:
    done = fieldhub(*args, env=cli_env(FIELDHUB_URL=hub.url, **env))
    return done.returncode, done.stdout, done.stderr


def test_device_commands_round_trip(hub_process: HubProcess) -> None:
    code, out, err = _cli(
        hub_process,
        "device",
        "--json",
        "create",
        "Kitchen probe",
        "--id",
        "kp",
        "--label",
        "room=kitchen",
        "--kind",
        "gateway",
    )
    assert code == 0, err
    created = json.loads(out)
    assert (created["id"], created["kind"], created["labels"]) == ("kp", "gateway", {"room": "kitchen"})
    old_secret = created["credentials"]["password"]
    TestDevice(hub_process.mqtt_port, "kp", old_secret).connect().close()

    code, out, _ = _cli(hub_process, "device", "list", "--label", "room=kitchen", "--no-headers")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["kp"]
    code, out, _ = _cli(hub_process, "device", "show", "kp")
    assert code == 0 and "Kitchen probe" in out and old_secret not in out

    code, out, _ = _cli(hub_process, "device", "--json", "rotate", "kp")
    assert code == 0
    new_secret = json.loads(out)["password"]
    assert new_secret != old_secret
    assert TestDevice(hub_process.mqtt_port, "kp", old_secret).connect(expect_success=False).refused
    TestDevice(hub_process.mqtt_port, "kp", new_secret).connect().close()

    code, out, _ = _cli(hub_process, "device", "--json", "update", "kp", "--name", "Pantry", "--disable")
    assert code == 0 and json.loads(out)["name"] == "Pantry" and json.loads(out)["enabled"] is False
    assert TestDevice(hub_process.mqtt_port, "kp", new_secret).connect(expect_success=False).refused

    code, out, _ = _cli(hub_process, "device", "delete", "kp")
    assert code == 0 and "deleted kp" in out
    code, _, err = _cli(hub_process, "device", "show", "kp")
    assert code == 1 and "not found" in err


def test_device_command_errors_are_one_clear_line(hub_process: HubProcess) -> None:
    code, _, err = _cli(hub_process, "device", "create", "x", "--label", "novalue")
    assert code == 2 and err.strip().endswith("Invalid value for '--label': 'novalue' must be KEY=VALUE")
    code, _, err = _cli(hub_process, "device", "create", "x", "--id", "bad/id")
    assert code == 1 and "id" in err and "Traceback" not in err
    code, _, err = _cli(hub_process, "device", "list", FIELDHUB_ADMIN_PASSWORD="wrong-password")
    # No raw status code (the hub's address is left out of the look: its port may hold the digits 401).
    assert code == 1 and "401" not in re.sub(r"[\w.]+:\d+", "", err) and "password" in err.lower()
    assert "wrong-password" not in err
    done = fieldhub("device", "list", env=cli_env(FIELDHUB_URL="http://127.0.0.1:9"))
    assert done.returncode == 1 and "cannot reach the hub" in done.stderr


def test_sim_publishes_real_mqtt_with_its_own_credentials(hub_process: HubProcess) -> None:
    code, out, err = _cli(
        hub_process,
        "sim",
        "--devices",
        "3",
        "--rate",
        "20",
        "--duration",
        "1.5",
        "--prefix",
        "clisim",
        "--keep",  # to look at what the devices stored; test_sim_cli.py tests the removal
        "--mqtt",
        f"mqtt://127.0.0.1:{hub_process.mqtt_port}",
    )
    assert code == 0, err
    assert "simulating 3 devices" in out
    last = [line for line in out.splitlines() if "acked=" in line][-1]
    fields = dict(part.split("=") for part in last.split() if "=" in part)
    assert int(fields["acked"]) >= 3, last
    with logged_in(hub_process.url) as http:
        listed = http.get("/api/v1/devices", params={"label": "simulated=true"}).json()
        assert {d["id"] for d in listed["items"]} >= {"clisim-0001", "clisim-0002", "clisim-0003"}
        for i in (1, 2, 3):
            latest = http.get(f"/api/v1/devices/clisim-{i:04d}/latest").json()["values"]
            assert latest, f"clisim-{i:04d} stored nothing"


def test_contracts_export_writes_the_schemas_the_api_serves(hub_process: HubProcess, tmp_path: Path) -> None:
    done = fieldhub("contracts", "export", str(tmp_path / "schemas"))
    assert done.returncode == 0, done.stderr
    files = sorted((tmp_path / "schemas").glob("*.schema.json"))
    names = {f.name.removesuffix(".schema.json") for f in files}
    assert {"telemetry", "device", "tenant", "command-request", "command-response", "status", "state-desired"} <= names
    with httpx.Client(base_url=hub_process.url) as http:
        served = http.get("/api/v1/contracts").json()
        assert set(served["items"]) == names
        for f in files:
            name = f.name.removesuffix(".schema.json")
            assert json.loads(f.read_text()) == http.get(f"/api/v1/contracts/{name}").json()


def test_up_refuses_bad_settings_before_starting(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text("mqtt_port = 'many'\n")
    done = fieldhub("up", "--config", str(config), "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 2
    assert str(config) in done.stderr and "mqtt_port" in done.stderr and "Traceback" not in done.stderr

    weak = fieldhub("up", "--data-dir", str(tmp_path / "d"), env=cli_env(FIELDHUB_ADMIN_PASSWORD="admin"))
    assert weak.returncode == 2 and "insecure settings refused outside --demo" in weak.stderr


def test_up_reports_a_busy_port(hub_process: HubProcess, tmp_path: Path) -> None:
    done = fieldhub(
        "up", "--data-dir", str(tmp_path / "d"), "--mqtt-port", str(hub_process.mqtt_port), "--http-port", "0"
    )
    assert done.returncode == 2
    assert f"cannot listen for MQTT on 127.0.0.1:{hub_process.mqtt_port}: Address already in use" in done.stderr
    assert "Traceback" not in done.stderr


def test_demo_prints_login_and_runs_simulated_devices(tmp_path: Path) -> None:
    env = {k: v for k, v in cli_env().items() if k != "FIELDHUB_ADMIN_PASSWORD"}
    hub = start_hub(tmp_path / "demo", "--demo", env=env)
    try:
        password = hub.wait_for_line("Admin login: admin / ").split()[4]
        hub.wait_for_line("Demo: 3 simulated devices")
        with logged_in(hub.url, password) as http:
            listed = http.get("/api/v1/devices", params={"tenant": "default"}).json()
            assert {d["id"] for d in listed["items"]} == {"greenhouse-1", "greenhouse-2", "cold-room"}
    finally:
        output = hub.stop()
    assert hub.proc.returncode == 0 and "Traceback" not in output


def test_hub_commands_without_the_hub_extra_say_what_to_install(tmp_path: Path) -> None:
    # A base install (the edge agent's) lacks the hub extra; simulate it by hiding one of its packages.
    script = (
        "import sys; sys.modules['uvicorn'] = None; from cloud.cli.main import main; "
        f"sys.exit(main(['up', '--data-dir', {str(tmp_path / 'd')!r}]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=cli_env(), timeout=60, check=False
    )
    assert done.returncode == 2
    assert "'uvicorn' is missing" in done.stderr and 'pip install ".[hub]"' in done.stderr
    assert "Traceback" not in done.stderr


def test_output_into_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    export = subprocess.Popen(
        [sys.executable, "-m", "cloud.cli.main", "contracts", "export", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    assert export.stdout is not None and export.stderr is not None
    export.stdout.close()  # like `| head -0`: the reader is gone before the first line
    assert export.wait(timeout=60) == 0
    assert b"Traceback" not in export.stderr.read()
    export.stderr.close()


def test_broker_settings_are_refused_before_starting(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    cases = [
        (("up", "--broker", "mqtt://127.0.0.1:1883"), "needs mosquitto.password or mosquitto.password_file"),
        (("up", "--broker", "mqtt://fieldhub:secret@127.0.0.1:1883"), "not in the URL"),
        (("up", "--broker", "rabbit"), "use embedded, mosquitto or mqtt://host:port"),
        (("serve", "--role", "ingest"), "an ingest replica reads from an external broker"),
    ]
    for args, message in cases:
        done = fieldhub(*args, "--data-dir", data)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr and "Traceback" not in done.stderr
        assert "secret" not in done.stderr.replace("mosquitto.password", "")
    missing = fieldhub(
        "up", "--broker", "mosquitto", "--data-dir", data, env=cli_env(FIELDHUB_MOSQUITTO__BINARY="no-such-mosquitto")
    )
    assert missing.returncode == 2 and "'no-such-mosquitto' not found" in missing.stderr


def test_external_broker_with_a_wrong_password_is_a_clear_error(tmp_path: Path) -> None:
    broker = ExternalMosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        done = fieldhub(
            *("up", "--broker", f"mqtt://127.0.0.1:{broker.port}", "--data-dir", str(tmp_path / "d")),
            env=cli_env(FIELDHUB_MOSQUITTO__USERNAME=SERVICE_USER, FIELDHUB_MOSQUITTO__PASSWORD="not-the-password"),
        )
    finally:
        broker.stop()
    assert done.returncode == 2
    assert "refused the hub's connection" in done.stderr and "not-the-password" not in done.stderr


def test_demo_on_a_managed_mosquitto(tmp_path: Path) -> None:
    env = {k: v for k, v in cli_env().items() if k != "FIELDHUB_ADMIN_PASSWORD"}
    hub = start_hub(tmp_path / "demo", "--demo", "--broker", "mosquitto", env=env)
    try:
        password = hub.wait_for_line("Admin login: admin / ").split()[4]
        hub.wait_for_line("Demo: 3 simulated devices")
        with logged_in(hub.url, password) as http:

            def online_with_data() -> bool:
                devices = http.get("/api/v1/devices", params={"tenant": "default"}).json()["items"]
                latest = http.get("/api/v1/devices/cold-room/latest").json()["values"]
                return all(d["status"] == "online" for d in devices) and bool(latest)

            assert wait_until(online_with_data, 20), "demo devices not online with data through Mosquitto"
    finally:
        output = hub.stop()
    assert hub.proc.returncode == 0 and "Traceback" not in output

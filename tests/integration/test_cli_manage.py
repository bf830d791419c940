"""Managing a hub with ``fieldhub`` as users do: real CLI processes against one real hub and real MQTT devices.

Every test has its own config directory (``XDG_CONFIG_HOME``) and its own device ids; the hub is shared
by the module, so the file stays fast.
"""

from __future__ import annotations

import hashlib
import io
import json
import queue
import signal
import stat
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import IO, Any

import httpx
import orjson
import pytest
import yaml

from tests.helpers.hub import ADMIN_PASSWORD
from tests.helpers.mqtt import TestDevice, answer_commands
from tests.helpers.process import HubProcess, cli_env, logged_in
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def name() -> str:
    """A device id (or other name) of this test alone."""
    return f"c-{uuid.uuid4().hex[:10]}"


class Cli:
    """Runs ``fieldhub`` against the hub with one config directory; by default signed in by the admin password."""

    def __init__(self, hub: HubProcess, config_home: Path) -> None:
        self.hub = hub
        self.config_home = config_home

    def env(self, *, password: bool = True, **extra: str) -> dict[str, str]:
        env = cli_env(**{"XDG_CONFIG_HOME": str(self.config_home), "FIELDHUB_HUB": self.hub.url, **extra})
        if not password:
            del env["FIELDHUB_ADMIN_PASSWORD"]
        return env

    def run(self, *args: str, stdin: str = "", password: bool = True, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cloud.cli.main", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(password=password, **extra),
            timeout=60,
            check=False,
        )

    def ok(self, *args: str, **kwargs: Any) -> str:
        done = self.run(*args, **kwargs)
        assert done.returncode == 0, f"fieldhub {' '.join(args)} exited {done.returncode}: {done.stderr}"
        return done.stdout

    def json(self, *args: str, **kwargs: Any) -> Any:
        return json.loads(self.ok(*args, "-o", "json", **kwargs))

    def error(self, *args: str, code: int = 1, **kwargs: Any) -> str:
        """The one line a failing command printed on stderr."""
        done = self.run(*args, **kwargs)
        assert done.returncode == code, f"exit {done.returncode}, not {code}: {done.stdout}{done.stderr}"
        assert "Traceback" not in done.stderr
        if code == 1:
            assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        return done.stderr.strip()

    def logins(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads((self.config_home / "fieldhub" / "hubs.json").read_text())
        return body


@pytest.fixture
def cli(hub_process: HubProcess, tmp_path: Path) -> Cli:
    return Cli(hub_process, tmp_path / "config")


def _table(out: str) -> list[dict[str, str]]:
    """A table's rows keyed by header (columns split on the runs of two spaces the tables align with)."""
    lines = out.rstrip("\n").splitlines()
    starts = [i for i, ch in enumerate(lines[0]) if ch != " " and (i == 0 or lines[0][i - 2 : i] == "  ")]
    ends = [*starts[1:], None]
    headers = [lines[0][s:e].strip() for s, e in zip(starts, ends, strict=True)]
    return [{h: line[s:e].strip() for h, s, e in zip(headers, starts, ends, strict=True)} for line in lines[1:]]


def _device(hub: HubProcess, device_id: str, **body: Any) -> str:
    with logged_in(hub.url) as http:
        created = http.post("/api/v1/devices", json={"id": device_id, "name": device_id, **body})
        assert created.status_code == 201, created.text
        password: str = created.json()["credentials"]["password"]
        return password


# --- logging in and out ---


def test_login_keeps_a_private_token_that_logout_revokes(cli: Cli) -> None:
    url = cli.hub.url
    refused = cli.error("device", "list", password=False)
    assert refused == f"fieldhub: not logged in to {url}: run fieldhub login --hub {url} " + (
        "(or set FIELDHUB_TOKEN or FIELDHUB_PASSWORD)"
    )

    # The password from stdin; the hub from FIELDHUB_HUB.
    out = cli.ok("login", "--username", "admin", stdin=ADMIN_PASSWORD + "\n", password=False)
    assert out.startswith(f"Logged in to {url} as admin (admin, platform)")
    directory, file = cli.config_home / "fieldhub", cli.config_home / "fieldhub" / "hubs.json"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    kept = cli.logins()
    assert kept["current"] == url and kept["hubs"][url]["username"] == "admin"
    token = kept["hubs"][url]["token"]

    # No password and no --hub from here on: the login names both.
    assert cli.ok("device", "list", password=False, FIELDHUB_HUB="").startswith("ID ")

    assert cli.ok("logout", password=False).strip() == f"Logged out of {url}."
    assert cli.logins()["hubs"] == {}
    with httpx.Client(base_url=url) as http:
        assert http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert cli.error("logout", password=False) == f"fieldhub: not logged in to {url}"


def test_a_wrong_password_is_one_line_and_keeps_nothing(cli: Cli) -> None:
    err = cli.error("login", "--username", "admin", password=False, FIELDHUB_PASSWORD="not-the-password")
    assert err == f"fieldhub: cannot log in to {cli.hub.url} as admin: wrong username or password"
    assert not (cli.config_home / "fieldhub" / "hubs.json").exists()


def test_a_revoked_login_says_to_log_in_again(cli: Cli) -> None:
    cli.ok("login", "--hub", cli.hub.url, "--username", "admin", password=False, FIELDHUB_PASSWORD=ADMIN_PASSWORD)
    token = cli.logins()["hubs"][cli.hub.url]["token"]
    with httpx.Client(base_url=cli.hub.url) as http:  # signed out elsewhere
        assert http.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    err = cli.error("device", "list", password=False)
    assert err == (
        f"fieldhub: your login to {cli.hub.url} has ended (token revoked); "
        f"log in again: fieldhub login --hub {cli.hub.url}"
    )
    # A token in FIELDHUB_TOKEN is named as such.
    err = cli.error("device", "list", password=False, FIELDHUB_TOKEN=token)
    assert "refused FIELDHUB_TOKEN (token revoked)" in err


# --- devices, in every output format ---


def test_device_group_in_every_output_format(cli: Cli, name: str) -> None:
    out = cli.ok("device", "create", "Kitchen probe", "--id", name, "--label", "room=kitchen")
    rows = _table(out.split("\n\n")[0])
    assert rows == [
        {
            "ID": name,
            "NAME": "Kitchen probe",
            "TENANT": "default",
            "KIND": "device",
            "STATUS": "offline",
            "ENABLED": "true",
            "LAST SEEN": "-",
            "LABELS": "room=kitchen",
        }
    ]
    secret_lines = out.split("\n\n")[1].splitlines()
    assert secret_lines[0].startswith("MQTT credentials, shown once: store them now")
    assert secret_lines[1].split() == ["username", name]
    password = secret_lines[2].split()[1]
    assert "{" not in out and "'" not in out.replace("Kitchen", "")  # no Python repr anywhere
    TestDevice(cli.hub.mqtt_port, name, password).connect().close()

    # YAML and JSON are the hub's answer, unchanged.
    rotated = yaml.safe_load(cli.ok("device", "rotate", name, "-o", "yaml"))
    assert set(rotated) == {"username", "password"} and rotated["password"] != password
    assert TestDevice(cli.hub.mqtt_port, name, password).connect(expect_success=False).refused
    table = cli.ok("device", "rotate", name)
    assert table.startswith("MQTT credentials, shown once") and "password  " in table

    got = cli.json("device", "get", name)
    assert (got["id"], got["labels"], got["enabled"]) == (name, {"room": "kitchen"}, True)
    labelled = cli.json("device", "label", name, "floor=2", "room-")
    assert labelled["labels"] == {"floor": "2"}
    assert cli.json("device", "disable", name)["enabled"] is False
    assert cli.json("device", "enable", name)["enabled"] is True
    updated = cli.json("device", "update", name, "--name", "Pantry probe", "--label", "room=pantry")
    assert (updated["name"], updated["labels"]) == ("Pantry probe", {"room": "pantry"})

    # Options before or after the subcommand, the older --json too.
    listed = cli.ok("device", "list", "--label", "room=pantry", "--no-headers")
    assert [line.split()[0] for line in listed.splitlines()] == [name]
    found = cli.ok("device", "list", "--search", "PANTRY PRO", "--no-headers")
    assert [line.split()[0] for line in found.splitlines()] == [name]
    before = cli.ok("device", "-o", "yaml", "--hub", cli.hub.url, "list", "--label", "room=pantry", FIELDHUB_HUB="")
    after = cli.ok("device", "list", "--label", "room=pantry", "--hub", cli.hub.url, "-o", "yaml", FIELDHUB_HUB="")
    assert yaml.safe_load(before)["items"] == yaml.safe_load(after)["items"]
    assert yaml.safe_load(after)["total"] == 1
    assert json.loads(cli.ok("device", "--json", "get", name))["name"] == "Pantry probe"
    assert json.loads(cli.ok("device", "get", name, "--json"))["name"] == "Pantry probe"

    assert cli.ok("device", "delete", name).strip() == f"deleted {name}"
    assert cli.error("device", "get", name) == f"fieldhub: 404 not_found: device '{name}' not found"


def test_usage_errors_exit_2_and_name_the_problem(cli: Cli) -> None:
    assert "No such command 'frobnicate'" in cli.error("device", "frobnicate", code=2)
    assert "Invalid value for '--status'" in cli.error("device", "list", "--status", "asleep", code=2)
    assert "Missing option '--key'" in cli.error("telemetry", "query", "dev-1", code=2)
    assert "Invalid value for '-o' / '--output'" in cli.error("device", "list", "-o", "xml", code=2)
    assert "'nothing' must be KEY=VALUE or KEY-" in cli.error("device", "label", "dev-1", "nothing", code=2)
    assert "must look like http(s)://host[:port]" in cli.error("device", "list", "--hub", "ftp://x", code=2)
    # Unreachable: exit 1, one line.
    assert cli.error("device", "list", "--hub", "http://127.0.0.1:9").startswith(
        "fieldhub: cannot reach the hub at http://127.0.0.1:9"
    )


# --- telemetry ---


def _publish(device: TestDevice, device_id: str, *readings: dict[str, Any]) -> None:
    device.publish(f"devices/{device_id}/telemetry", orjson.dumps(list(readings)))


def test_telemetry_query_and_latest(cli: Cli, name: str) -> None:
    device = TestDevice(cli.hub.mqtt_port, name, _device(cli.hub, name)).connect()
    try:
        base = 1_790_000_040_000  # a whole minute, stamped by the device: one bucket of 1m holds all three
        _publish(
            device,
            name,
            *({"ts": base + i * 1000, "values": {"temp": 20.0 + i, "door": i % 2 == 0}} for i in range(3)),
        )
    finally:
        device.close()

    out = cli.ok("telemetry", "latest", name)
    rows = _table(out)
    assert [(r["KEY"], r["VALUE"]) for r in rows] == [("door", "true"), ("temp", "22.0")]
    points = cli.json("telemetry", "query", name, "--key", "temp", "--start", str(base), "--order", "desc")["points"]
    assert [p["value"] for p in points] == [22.0, 21.0, 20.0]
    buckets = cli.json("telemetry", "query", name, "--key", "temp", "--agg", "avg", "--interval", "1m")["points"]
    assert buckets == [{"ts": points[-1]["ts"], "value": 21.0}]
    table = _table(cli.ok("telemetry", "query", name, "--key", "temp", "--end", str(base + 1000)))
    assert table == [{"TS": points[-1]["ts"], "VALUE": "20.0"}]


@dataclass
class _Watch:
    """A device publishing over MQTT and ``fieldhub telemetry watch`` following it."""

    device: TestDevice
    proc: subprocess.Popen[str]
    lines: queue.Queue[str]  # stdout, line by line as a thread reads it
    stderr: IO[str]


@contextmanager
def _watching(cli: Cli, device_id: str, *args: str) -> Iterator[_Watch]:
    """A connected device ``device_id`` and a watch of it, once the watch says the live stream is open.

    On the way out the device disconnects and the watch is killed if it still runs.
    """
    device = TestDevice(cli.hub.mqtt_port, device_id, _device(cli.hub, device_id)).connect()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloud.cli.main", "telemetry", "watch", device_id, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env(),
    )
    assert proc.stdout is not None and proc.stderr is not None
    stdout = proc.stdout
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stdout:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    try:
        first = proc.stderr.readline()
        assert first.startswith(f"Watching {device_id} on {cli.hub.url}"), first + proc.stderr.read()
        reader.start()
        yield _Watch(device, proc, lines, proc.stderr)
    finally:
        device.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if reader.is_alive():
            reader.join(10)  # the rest of stdout, up to the end the exit gave it
        stdout.close()
        proc.stderr.close()


def test_watch_prints_live_readings_until_ctrl_c(cli: Cli, name: str) -> None:
    with _watching(cli, name) as watch:
        assert watch.lines.get(timeout=10).split() == ["TS", "KEY", "VALUE"]
        _publish(watch.device, name, {"values": {"temp": 21.5}})
        reading = watch.lines.get(timeout=10).split()
        assert reading[1:] == ["temp", "21.5"]
        watch.proc.send_signal(signal.SIGINT)
        assert watch.proc.wait(timeout=10) == 0
        assert "Traceback" not in watch.stderr.read()


def test_watch_stops_after_count_messages(cli: Cli, name: str) -> None:
    with _watching(cli, name, "--count", "1", "-o", "json") as watch:
        _publish(watch.device, name, {"values": {"temp": 1.5, "mode": "eco"}})
        assert watch.proc.wait(timeout=10) == 0
    message = json.loads(watch.lines.get(timeout=10))
    assert message["device_id"] == name
    assert {(r["key"], r["value"]) for r in message["readings"]} == {("temp", 1.5), ("mode", "eco")}


# --- state and commands, with a device that answers ---


def test_state_and_commands_reach_a_real_device(cli: Cli, name: str) -> None:
    device = TestDevice(cli.hub.mqtt_port, name, _device(cli.hub, name)).connect()
    stop = threading.Event()
    answering = threading.Thread(target=answer_commands, args=(device, stop), daemon=True)
    try:
        device.subscribe(f"devices/{name}/commands/+")
        answering.start()
        answer = cli.json("command", "send", name, "ping", "--param", "n=5", "--param", "tag=x", "--timeout", "10")
        assert (answer["status"], answer["result"]) == ("ok", {"echo": {"n": 5, "tag": "x"}})
        table = _table(cli.ok("command", "send", name, "ping", "--params", '{"deep": {"a": 1}}'))
        assert (table[0]["STATUS"], table[0]["RESULT"]) == ("ok", '{"echo":{"deep":{"a":1}}}')
    finally:
        stop.set()
        answering.join(5)
        device.close()
    offline = cli.error("command", "send", name, "ping", "--timeout", "1")
    assert offline == f"fieldhub: 409 device_offline: device '{name}' is not connected"

    stored = cli.json("state", "set", name, '{"mode": "eco", "fan": {"speed": 1}}')
    assert stored["state"] == {"mode": "eco", "fan": {"speed": 1}}
    changed = cli.json("state", "set", name, "--set", "fan.speed=3", "--set", "label=north")
    assert changed["state"] == {"mode": "eco", "fan": {"speed": 3}, "label": "north"}
    assert changed["version"] == stored["version"] + 1
    both = yaml.safe_load(cli.ok("state", "get", name, "-o", "yaml"))
    assert both["desired"]["state"] == changed["state"] and both["reported"] is None
    rows = {row["KIND"]: row for row in _table(cli.ok("state", "get", name))}
    assert rows["desired"]["VERSION"] == str(changed["version"]) and rows["reported"]["STATE"] == "-"
    assert "give the state" in cli.error("state", "set", name, code=2)


def test_a_command_the_device_refuses_exits_1(cli: Cli, name: str) -> None:
    device = TestDevice(cli.hub.mqtt_port, name, _device(cli.hub, name)).connect()
    stop = threading.Event()
    answering = threading.Thread(target=answer_commands, args=(device, stop, "error"), daemon=True)
    try:
        device.subscribe(f"devices/{name}/commands/+")
        answering.start()
        done = cli.run("command", "send", name, "reboot", "-o", "json")
    finally:
        stop.set()
        answering.join(5)
        device.close()
    assert done.returncode == 1 and json.loads(done.stdout)["status"] == "error"
    assert done.stderr.startswith(f"fieldhub: {name} answered reboot with an error")


# --- nodes, provisioning tokens, tenants and users ---


def test_nodes_show_heartbeat_sensors_and_logs(cli: Cli, name: str) -> None:
    gateway = TestDevice(cli.hub.mqtt_port, name, _device(cli.hub, name, kind="gateway")).connect()
    now = int(time.time() * 1000)
    beat = {
        "ts": now,
        "agent_version": "9.9",
        "uptime_s": 12.0,
        "cpu_temp": 48.25,
        "spool": {"depth": 7, "dropped": 0, "bytes_used": 100},
        "sensors": [{"name": "wave", "driver": "simulated", "interval_s": 1.0}],
    }
    try:
        gateway.publish(f"devices/{name}/heartbeat", orjson.dumps(beat))
        gateway.publish(f"devices/{name}/logs", orjson.dumps({"ts": now, "level": "INFO", "message": "up and away"}))
        with logged_in(cli.hub.url) as http:
            assert wait_until(lambda: http.get(f"/api/v1/nodes/{name}").json()["heartbeat"], 10)
            assert wait_until(lambda: http.get(f"/api/v1/nodes/{name}/logs").json()["lines"], 10)
    finally:
        gateway.close()

    out = cli.ok("node", "get", name)
    node_table, sensors = out.split("\n\n")
    node = _table(node_table)[0]
    shown = {k: node[k] for k in ("ID", "AGENT", "CPU TEMP", "SPOOL", "SENSORS")}
    assert shown == {"ID": name, "AGENT": "9.9", "CPU TEMP": "48.2 C", "SPOOL": "7", "SENSORS": "1"}
    assert _table(sensors)[0]["SENSOR"] == "wave"
    assert name in [row["ID"] for row in _table(cli.ok("node", "list"))]
    logs = cli.json("node", "logs", name)
    assert [line["message"] for line in logs["lines"]] == ["up and away"]
    assert _table(cli.ok("node", "logs", name))[0]["MESSAGE"] == "up and away"


def test_provisioning_tokens_are_shown_once_and_enroll_gateways(cli: Cli, name: str) -> None:
    out = cli.ok("token", "create", "--uses", "2", "--expires-in", "1h", "--label", "site=north")
    table, secret = out.split("\n\n")
    row = _table(table)[0]
    assert (row["TENANT"], row["USES LEFT"], row["LABELS"]) == ("default", "2", "site=north")
    assert secret.splitlines()[0].startswith("Provisioning token, shown once: store it now")
    value = secret.splitlines()[1].split()[1]
    with httpx.Client(base_url=cli.hub.url) as http:
        enrolled = http.post("/api/v1/enroll", json={"token": value, "name": "Pi", "id": name})
        assert enrolled.status_code == 201, enrolled.text

    listed = yaml.safe_load(cli.ok("token", "list", "-o", "yaml"))["items"]
    mine = next(t for t in listed if t["id"] == row["ID"])
    assert mine["uses_left"] == 1 and "token" not in mine
    assert cli.ok("token", "revoke", row["ID"]).strip() == f"revoked {row['ID']}"
    assert row["ID"] not in cli.ok("token", "list")
    assert "Invalid value for '--expires-in'" in cli.error("token", "create", "--expires-in", "soon", code=2)


def test_tenants_and_users(cli: Cli, tmp_path: Path, name: str) -> None:
    tenant = cli.json("tenant", "create", "Acme", "--id", name)
    assert (tenant["id"], tenant["name"]) == (name, "Acme")
    assert _table(cli.ok("tenant", "get", name))[0]["NAME"] == "Acme"
    assert name in [t["id"] for t in yaml.safe_load(cli.ok("tenant", "list", "-o", "yaml"))["items"]]

    user, first, second = f"u-{name}", "first-password-123", "second-password-456"
    created = cli.json("user", "create", user, "--tenant", name, "--role", "admin", stdin=first + "\n")
    assert (created["username"], created["role"], created["tenant"]) == (user, "admin", name)
    assert cli.ok("user", "list", "--no-headers").count(user) == 1
    assert cli.json("user", "update", user, "--role", "user")["role"] == "user"
    cli.ok("user", "update", user, "--password", stdin=second + "\n")

    # The user, in a config directory of their own, logs in and changes their own password.
    alice = Cli(cli.hub, tmp_path / "alice")
    cli_of_alice = ("--username", user)
    assert "wrong username or password" in alice.error("login", *cli_of_alice, stdin=first + "\n", password=False)
    alice.ok("login", *cli_of_alice, stdin=second + "\n", password=False)
    third = "third-password-789"
    out = alice.ok("user", "password", stdin=f"{second}\n{third}\n", password=False)
    assert out.strip() == f"Password of {user} changed; logged in again to {cli.hub.url} with it."
    assert [t["id"] for t in alice.json("tenant", "list", password=False)["items"]] == [name]
    assert "403 forbidden" in alice.error("user", "list", password=False)

    assert cli.ok("user", "delete", user).strip() == f"deleted {user}"
    assert cli.error("user", "get", user) == f"fieldhub: 404 not_found: user '{user}' not found"
    assert alice.error("device", "list", password=False).endswith(f"log in again: fieldhub login --hub {cli.hub.url}")


# --- apps ---


def test_app_init_push_ls_get_rm(cli: Cli, tmp_path: Path, name: str) -> None:
    app_dir = tmp_path / "app"
    out = cli.ok("app", "init", name, str(app_dir))
    assert f"push it with: fieldhub app push {app_dir}" in out
    assert {p.name for p in app_dir.iterdir()} == {"fieldhub-app.toml", "main.py", "README.md"}
    (app_dir / "__pycache__").mkdir()
    (app_dir / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    assert "exists" in cli.error("app", "init", name, str(app_dir))

    rows = _table(cli.ok("app", "push", str(app_dir)))
    assert [(r["NAME"], r["VERSION"], r["CREATED BY"]) for r in rows] == [(name, "0.1.0", "admin")]
    with logged_in(cli.hub.url) as http:
        package = http.get(f"/api/v1/apps/{name}/versions/0.1.0/package").content
    assert rows[0]["DIGEST"] == hashlib.sha256(package).hexdigest()
    assert "__pycache__/main.cpython-311.pyc" not in zipfile.ZipFile(io.BytesIO(package)).namelist()
    assert cli.error("app", "push", str(app_dir)).startswith("fieldhub: 409 conflict: ")

    listed = [r for r in _table(cli.ok("app", "ls")) if r["NAME"] == name]
    assert listed == [
        {"NAME": name, "TENANT": "default", "LATEST": "0.1.0", "VERSIONS": "1", "DESCRIPTION": "A Fieldhub app"}
    ]
    got = cli.json("app", "get", name)
    assert [v["version"] for v in got["versions"]] == ["0.1.0"]

    (app_dir / "fieldhub-app.toml").write_text("[app]\nname = 'Bad'\n")
    refused = cli.run("app", "push", str(app_dir))
    assert refused.returncode == 1, refused.stderr
    *problems, last = refused.stderr.strip().splitlines()
    assert last.startswith("fieldhub: 422 invalid_package: invalid package")
    assert {line.split(":")[0].strip() for line in problems} >= {"app.name", "app.version"}, problems

    assert cli.ok("app", "rm", f"{name}@0.1.0").strip() == f"removed {name}@0.1.0"
    assert cli.error("app", "get", name).startswith("fieldhub: 404 not_found")


# --- the command itself: version, help, completion, a base install ---


def test_version_comes_from_the_package_metadata(cli: Cli) -> None:
    assert cli.ok("--version").strip() == f"fieldhub {version('fieldhub')}"


def test_completion_scripts_and_answers(cli: Cli) -> None:
    bash = cli.ok(_FIELDHUB_COMPLETE="bash_source")
    assert "_fieldhub_completion()" in bash and "_FIELDHUB_COMPLETE=bash_complete" in bash
    assert "#compdef fieldhub" in cli.ok(_FIELDHUB_COMPLETE="zsh_source")
    assert "complete --no-files --command fieldhub" in cli.ok(_FIELDHUB_COMPLETE="fish_source")

    def complete(words: str) -> list[str]:
        out = cli.ok(COMP_WORDS=words, COMP_CWORD=str(len(words.split()) - 1), _FIELDHUB_COMPLETE="bash_complete")
        return [line.split(",", 1)[1] for line in out.splitlines()]

    assert complete("fieldhub dev") == ["device"]
    assert complete("fieldhub device l") == ["list", "label"]
    assert "--no-headers" in complete("fieldhub telemetry latest --no")


def test_the_agent_and_help_need_no_hub_extra(tmp_path: Path) -> None:
    # A base install (the edge agent's) has neither the hub extra nor PyYAML; hide them.
    config = tmp_path / "agent.toml"
    config.write_text('[hub]\ndevice_id = "pi-1"\nsecret = "s"\n[spool]\npath = "spool.db"\n')
    hidden = "; ".join(f"sys.modules[{m!r}] = None" for m in ("httpx", "yaml", "fastapi", "uvicorn", "amqtt"))
    script = (
        f"import sys; {hidden}; from cloud.cli.main import main; "
        f"sys.exit(main(['--help']) or main(['agent', 'check', '--config', {str(config)!r}]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=cli_env(), timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Manage a hub (through its HTTP API)" in done.stdout and f"{config}: OK, device pi-1" in done.stdout


def test_app_deploy_deployments_status_undeploy(cli: Cli, tmp_path: Path, name: str) -> None:
    app_dir = tmp_path / "app"
    cli.ok("app", "init", name, str(app_dir))
    manifest = app_dir / "fieldhub-app.toml"
    binding = f'\n[[sensors]]\nbind = "probe"\ntype = "{name}-sensor"\n'
    manifest.write_text(manifest.read_text() + binding)
    cli.ok("app", "push", str(app_dir))
    refused = cli.run("app", "deploy", "Bad@1.0.0")  # refused locally, before any request
    assert refused.returncode == 2 and "Invalid value for 'NAME[@VERSION]'" in refused.stderr

    out = cli.ok("app", "deploy", f"{name}@0.1.0", "--replicas", "1")
    [row] = _table(out.split("\nplacement: ")[0])
    assert (row["APP"], row["VERSION"], row["STATUS"], row["NODES"]) == (name, "0.1.0", "pending", "-")
    assert "placement: no node qualifies" in out and f"link: {cli.hub.url}/apps/default/{name}/" in out
    ident = row["ID"]
    listed = [r for r in _table(cli.ok("app", "deployments")) if r["ID"] == ident]
    assert [r["STATUS"] for r in listed] == ["pending"]
    shown = cli.json("app", "status", ident)
    assert shown["status"] == "pending" and shown["placement"]["reason"].startswith("no node qualifies")
    assert "placement: no node qualifies" in cli.ok("app", "status", ident)
    assert cli.json("app", "scale", ident, "1")["replicas"] == 1  # as many as it has: nothing to do
    assert cli.error("app", "scale", ident, "2").startswith(f"fieldhub: 409 conflict: deployment {ident} cannot have 2")

    assert cli.error("app", "rm", f"{name}@0.1.0").startswith("fieldhub: 409 conflict")
    assert cli.ok("app", "undeploy", ident).strip() == f"removed {ident}"
    assert cli.error("app", "status", ident).startswith("fieldhub: 404 not_found")
    assert cli.ok("app", "rm", name).strip() == f"removed {name}"


def test_app_deploy_on_a_schedule(cli: Cli, tmp_path: Path, name: str) -> None:
    app_dir = tmp_path / "app"
    cli.ok("app", "init", name, str(app_dir))
    cli.ok("app", "push", str(app_dir))
    # Refused locally, before any request: two schedules, a cron without its duration, a time without a zone.
    both = cli.run("app", "deploy", name, "--at", "2031-01-01T10:00:00Z", "--cron", "0 8 * * *", "--duration", "1h")
    assert both.returncode == 2 and "--at and --cron exclude each other" in both.stderr
    assert "--cron needs --duration" in cli.run("app", "deploy", name, "--cron", "0 8 * * *").stderr
    assert "needs a zone" in cli.run("app", "deploy", name, "--at", "2031-01-01T10:00:00").stderr
    # Refused by the hub, naming the problem.
    assert "bad hour" in cli.error("app", "deploy", name, "--cron", "0 25 * * *", "--duration", "1h")

    out = cli.ok("app", "deploy", name, "--cron", "0 8 * * *", "--duration", "10m", "--timezone", "Europe/Riga")
    [row] = _table(out.split("\nscheduled: ")[0])
    assert row["STATUS"] == "scheduled" and row["NODES"] == "-"
    # 08:00 in Riga is 05:00 or 06:00 UTC, summer or winter.
    assert (
        row["NEXT START"][10:] in ("T05:00:00Z", "T06:00:00Z") and f"scheduled: next start {row['NEXT START']}" in out
    )
    shown = cli.json("app", "status", row["ID"])
    assert shown["schedule"] == {"kind": "cron", "cron": "0 8 * * *", "duration_s": 600, "timezone": "Europe/Riga"}
    window = cli.json("app", "deploy", name, "--window", "2031-01-01T10:00:00Z", "2031-01-01T12:00:00+01:00")
    assert (window["status"], window["next_start"]) == ("scheduled", 1_925_028_000_000)
    assert window["schedule"] == {"kind": "window", "start": "2031-01-01T10:00:00Z", "end": "2031-01-01T12:00:00+01:00"}
    for ident in (row["ID"], window["id"]):
        cli.ok("app", "undeploy", ident)
    cli.ok("app", "rm", name)

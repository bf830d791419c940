"""The agent's app parts on their own: packages fetched and refused, the SDK socket's refusals, ports, bindings."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from contracts.apps import AppManifest, Runtime, Service
from contracts.nodes import LogLine
from edge_agent.apps.host import SDK_DIR
from edge_agent.apps.load import CpuMeter
from edge_agent.apps.logs import BUFFER_LINES, AppLogs, level_of
from edge_agent.apps.packages import PackageStore
from edge_agent.apps.ports import PortPool
from edge_agent.apps.python import PythonRuntime
from edge_agent.apps.runtime import Launch, RuntimeFailed
from edge_agent.apps.sdk_server import STREAM_QUEUE, Grant, ReadingTap, SdkServer
from edge_agent.sensors import SensorSet
from edge_agent.spool import Spool
from hub.deploy.placement import Needs, NodeView, SensorView, assign

pytestmark = pytest.mark.timeout(30)


def package(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class Served:
    """A stdlib HTTP server answering every GET with ``status`` and ``body``, noting the Authorization header."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body, self.authorizations = status, body, []

    def handler(self) -> type[BaseHTTPRequestHandler]:
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.authorizations.append(self.headers.get("Authorization"))
                self.send_response(served.status)
                self.send_header("Content-Length", str(len(served.body)))
                self.end_headers()
                self.wfile.write(served.body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(status: int, body: bytes) -> tuple[str, Served]:
        served = Served(status, body)
        server = ThreadingHTTPServer(("127.0.0.1", 0), served.handler())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", served

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


async def test_a_package_is_fetched_with_the_node_credentials_verified_and_unpacked_once(
    tmp_path: Path, serve: Any
) -> None:
    data = package({"main.py": b"print('hi')\n", "lib/util.py": b"X = 1\n"})
    digest = hashlib.sha256(data).hexdigest()
    url, served = serve(200, data)
    store = PackageStore(tmp_path, url, "pi-1", "s3cret", None)
    unpacked = await store.unpacked(digest, f"/api/v1/nodes/pi-1/packages/{digest}")
    assert (unpacked / "lib" / "util.py").read_bytes() == b"X = 1\n"
    assert served.authorizations == ["Basic cGktMTpzM2NyZXQ="]  # pi-1:s3cret
    assert await store.unpacked(digest, "/ignored") == unpacked
    assert len(served.authorizations) == 1, "a second instance of the version fetches nothing"
    store.forget(set())
    assert not unpacked.exists() and not any((tmp_path / "packages").iterdir())


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b"not the package", "the package fetched has sha256 "),
        (401, b"{}", "the hub refused the package download: HTTP 401"),
        (404, b"{}", "the hub refused the package download: HTTP 404"),
    ],
)
async def test_a_package_the_hub_refuses_or_that_differs_is_not_kept(
    tmp_path: Path, serve: Any, status: int, body: bytes, expected: str
) -> None:
    url, _ = serve(status, body)
    store = PackageStore(tmp_path, url, "pi-1", "s3cret", None)
    with pytest.raises(RuntimeFailed) as refused:
        await store.unpacked("ab" * 32, "/p")
    assert refused.value.message.startswith(expected)
    assert "s3cret" not in refused.value.message
    assert not (tmp_path / "versions").exists() or not any((tmp_path / "versions").iterdir())
    assert not any(p.name.endswith(".zip") for p in (tmp_path / "packages").iterdir())


async def test_no_hub_url_or_an_unreachable_hub_is_a_clear_failure(tmp_path: Path) -> None:
    with pytest.raises(RuntimeFailed, match=r"set \[hub\] api_url"):
        await PackageStore(tmp_path, None, "pi-1", "s", None).unpacked("ab" * 32, "/p")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(RuntimeFailed, match="cannot fetch the package from the hub"):
        await PackageStore(tmp_path, f"http://127.0.0.1:{port}", "pi-1", "s", None).unpacked("ab" * 32, "/p")


async def test_an_entry_escaping_the_package_is_refused_even_with_the_right_digest(tmp_path: Path, serve: Any) -> None:
    data = package({"../evil.py": b"x"})
    url, _ = serve(200, data)
    store = PackageStore(tmp_path / "apps", url, "pi-1", "s", None)
    with pytest.raises(RuntimeFailed, match="escapes the package"):
        await store.unpacked(hashlib.sha256(data).hexdigest(), "/p")
    assert not (tmp_path / "evil.py").exists() and not (tmp_path / "apps" / "evil.py").exists()


def test_ports_are_handed_out_skipping_ones_in_use_and_come_back() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        busy = held.getsockname()[1]
        pool = PortPool(busy, busy + 1)
        first = pool.take()
        assert first == busy + 1  # wherever the pool starts, the held port is skipped
        with pytest.raises(RuntimeFailed, match="no free port"):
            pool.take()
        pool.release(first)
        assert pool.take() == first


def test_bindings_get_distinct_sensors_the_specific_one_first() -> None:
    manifest = AppManifest.model_validate(
        {
            "app": {"name": "a", "version": "1.0.0"},
            "runtime": {"command": ["python", "main.py"]},
            "sensors": [
                {"bind": "any", "type": "temperature"},
                {"bind": "outside", "type": "temperature", "labels": {"side": "out"}},
            ],
            "actuators": [{"bind": "fan", "type": "relay"}],
        }
    )
    node = NodeView(
        id="pi",
        sensors=(
            SensorView("t-out", "temperature", labels={"side": "out"}),
            SensorView("t-in", "temperature"),
            SensorView("t-off", "temperature", enabled=False),
        ),
        actuators=(SensorView("relay-1", "relay"),),
    )
    bound = assign(Needs.of(manifest), node)
    assert bound == {"sensor": {"any": ["t-in"], "outside": ["t-out"]}, "actuator": {"fan": ["relay-1"]}}
    assert assign(Needs.of(manifest), NodeView(id="bare")) == {
        "sensor": {"any": [], "outside": []},
        "actuator": {"fan": []},
    }


@pytest.fixture
async def sdk(tmp_path: Path) -> Any:
    tap = ReadingTap("pi-1")
    spooled: list[Any] = []

    async def spool(readings: Any) -> None:
        spooled.extend(readings)

    server = SdkServer(tmp_path / "run" / "sdk.sock", tap, spool, lambda: SensorSet([], spool))
    await server.start()
    yield server, tap, spooled
    await server.close()


async def ask(path: Path, *requests: dict[str, Any]) -> list[Any]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    answers = []
    for request in requests:
        writer.write(orjson.dumps(request) + b"\n")
        answers.append(orjson.loads(await reader.readline()))
    writer.close()
    return answers


async def test_the_sdk_socket_answers_only_within_the_grant(sdk: Any) -> None:
    server, tap, spooled = sdk
    assert server.path.stat().st_mode & 0o777 == 0o600
    token = server.grant(Grant("climate", "main", {"air": ["probe"]}, {}))
    tap.offer("probe", [("probe", 21.5, 1000)])
    tap.offer("other", [("other", 99.0, 2000)])
    answers = await ask(
        server.path,
        {"token": token, "op": "latest", "bind": "air"},
        {"token": token, "op": "latest", "bind": "water"},
        {"token": "forged", "op": "latest", "bind": "air"},
        {"token": token, "op": "publish", "name": "setpoint", "value": 20},
        {"token": token, "op": "publish", "name": "x", "value": [1]},
        {"token": token, "op": "publish", "name": "x", "value": "y" * 257},
        {"token": token, "op": "publish", "name": "bad name!", "value": 1},
        {"token": token, "op": "command", "bind": "fan", "name": "write", "params": {"value": True}},
        {"token": token, "op": "explode"},
    )
    assert answers[0] == {
        "ok": True,
        "result": {"ts": 1000, "value": 21.5, "key": "probe", "sensor": "probe", "node": "pi-1"},
    }
    refusals = [a["error"] for a in answers[1:3] + answers[4:]]
    assert refusals == [
        "no sensor or input bound as 'water'; this app has: air",
        "unknown token: is FIELDHUB_SDK_TOKEN the one this node gave the app?",
        "an output value is a number, a boolean or a string",
        "a string output is at most 256 characters",
        "output key 'climate:bad name!' is not a valid telemetry key (up to 64 of [A-Za-z0-9_.:-])",
        "no actuator bound as 'fan'; this app has: none",
        "unknown op 'explode'; known: latest, readings, publish, command",
    ]
    assert answers[3]["ok"] and answers[3]["result"]["key"] == "climate:setpoint"
    assert [(key, value) for key, value, _ in spooled] == [("climate:setpoint", 20.0)]
    # Garbage on the socket ends that connection only.
    reader, writer = await asyncio.open_unix_connection(str(server.path))
    writer.write(b"not json\n")
    assert orjson.loads(await reader.readline())["error"] == "a request is one line of JSON"
    writer.close()
    server.revoke(token)
    assert (await ask(server.path, {"token": token, "op": "latest", "bind": "air"}))[0]["ok"] is False


async def test_the_sdk_module_streams_readings_to_an_app_process(sdk: Any, tmp_path: Path) -> None:
    server, tap, _ = sdk
    token = server.grant(Grant("climate", "main", {"air": ["probe"]}, {}))
    script = (
        "import fieldhub_sdk\nfor i, r in enumerate(fieldhub_sdk.readings('air')):\n    print(r['value'], flush=True)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SDK_DIR), "FIELDHUB_SDK_SOCKET": str(server.path)}
    env["FIELDHUB_SDK_TOKEN"] = token
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script, env=env, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        values = []
        value = 0.0
        while len(values) < 3:
            # Offer until the app's stream is subscribed and has printed three readings.
            value += 1
            tap.offer("probe", [("probe", value, int(value))])
            try:
                async with asyncio.timeout(0.2):
                    values.append(float(await proc.stdout.readline()))
            except TimeoutError:
                continue
        assert values == sorted(values) and len(set(values)) == 3
    finally:
        proc.kill()
        await proc.wait()


def test_the_sdk_says_where_it_works_outside_a_node(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDHUB_")}
    done = subprocess.run(
        [sys.executable, "-c", "import fieldhub_sdk\nfieldhub_sdk.latest('air')"],
        env={**env, "PYTHONPATH": str(SDK_DIR)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "FIELDHUB_SDK_SOCKET is not set: fieldhub_sdk works in apps a Fieldhub node runs" in done.stderr


def test_a_slow_stream_loses_the_oldest_readings_and_says_how_many() -> None:
    tap = ReadingTap("pi-1")
    with tap.stream(["probe"]) as subscriber:
        tap.offer("probe", [("probe", float(i), i) for i in range(STREAM_QUEUE + 5)])
        assert subscriber.dropped == 5
        assert subscriber.queue.get_nowait()["value"] == 5.0
    tap.offer("probe", [("probe", 1.0, 1)])  # no subscriber left: nothing queued anywhere
    assert subscriber.queue.qsize() == STREAM_QUEUE - 1


async def test_a_service_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    runtime = PythonRuntime(tmp_path / "envs", tmp_path / "pids", sys.executable)
    service = Service(name="main", runtime=Runtime(command=["python", "main.py"]), default=True)
    source = tmp_path / "src"
    source.mkdir()
    script = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\n"
    (source / "main.py").write_text(script + "time.sleep(60)\n")
    launch = Launch("k-0-main", "k-1.0.0", service, source, tmp_path, {}, None, SDK_DIR, tmp_path / "sdk.sock")
    lines: list[str] = []
    ready = asyncio.Event()

    def sink(stream: str, line: str) -> None:
        lines.append(line)
        ready.set()

    await runtime.prepare(launch, sink)
    running = await runtime.start(launch, sink)
    await ready.wait()
    await running.stop(0.2)
    assert await running.wait() == -9
    assert lines == ["ready"]
    await running.stop(0.2)  # idempotent


@pytest.mark.parametrize(
    ("line", "stream", "level"),
    [
        ("INFO:     Uvicorn running on http://127.0.0.1:8000", "stderr", "INFO"),
        ("2026-12-02 17:00:00,123 WARNING greenhouse: too warm", "stdout", "WARNING"),
        ("[ERROR] sensor unreadable", "stdout", "ERROR"),
        ("WARN disk almost full", "stdout", "WARNING"),
        ("FATAL out of memory", "stderr", "CRITICAL"),
        ("Traceback (most recent call last):", "stderr", "ERROR"),
        ("hello", "stdout", "INFO"),
        (f"{'x' * 60} ERROR far into the line", "stdout", "INFO"),
    ],
)
def test_an_app_lines_level_is_the_one_it_states_else_its_streams(line: str, stream: str, level: str) -> None:
    assert level_of(line, stream) == level


async def test_app_lines_reach_the_spool_with_their_origin_and_a_flood_is_counted(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", 64 * 1024 * 1024)
    woken: list[bool] = []
    logs = AppLogs(spool, lambda: woken.append(True))
    fields: dict[str, object] = {"app": "climate", "version": "1.0.0", "deployment": "dep-1", "instance": "dep-1-0"}
    for i in range(BUFFER_LINES + 3):
        logs.add({**fields, "service": "main"}, "stdout", f"line {i}")
    await logs.flush()
    rows = spool.batch(0, BUFFER_LINES + 10, 1 << 30)
    records = [LogLine.model_validate(orjson.loads(row.body)) for row in rows]
    assert len(records) == BUFFER_LINES + 1 and woken == [True]
    first = records[0]
    assert (first.app, first.deployment, first.instance, first.service, first.stream) == (
        "climate",
        "dep-1",
        "dep-1-0",
        "main",
        "stdout",
    )
    assert first.message == "line 3"  # the oldest three gave way
    assert records[-1].message == "3 app log lines dropped: the apps wrote faster than the spool took them"
    spool.close()


def test_the_cpu_meter_measures_a_process_between_two_looks() -> None:
    meter = CpuMeter()
    first_cpu, rss = meter.sample([os.getpid()])
    assert first_cpu is None and rss is not None and rss > 10
    spin_until = time.monotonic() + 0.2
    while time.monotonic() < spin_until:  # this process works for 0.2 s: a measurable share of a core
        pass
    cpu, _ = meter.sample([os.getpid()])
    assert cpu is not None and 20 <= cpu <= 200
    assert meter.sample([2**22 + 7]) == (0.0, 0.0)  # a pid that is gone uses nothing

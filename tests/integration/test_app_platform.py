"""The app platform end to end: a real hub, two real agents as separate processes at two locations, a real app.

The app binds a temperature sensor at greenhouse-b; it must land on the node there, run in its own virtual
environment, read that sensor through fieldhub_sdk, serve it through the hub's link, and stop when deleted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w

from contracts.apps import MANIFEST
from hub.apps.template import zip_directory
from tests.helpers.process import HubProcess, alive, cli_env, fieldhub, logged_in, running_hub_process

pytestmark = pytest.mark.timeout(180)

APP = "climate"
PORTS = {"node-a": 21000, "node-b": 21100, "node-c": 21200, "node-b2": 21300}
#: An app that serves the latest reading of its bound sensor, and publishes an output on each request.
APP_MAIN = """\
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import fieldhub_sdk


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            body = {"status": "ok"}
        else:
            reading = fieldhub_sdk.latest("air")
            published = fieldhub_sdk.publish("requests", 1)
            body = {"reading": reading, "published": published, "path": self.path,
                    "prefix": self.headers.get("X-Forwarded-Prefix")}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer((os.environ["FIELDHUB_HOST"], int(os.environ["PORT"])), Handler).serve_forever()
"""


def manifest(name: str, location: str) -> str:
    return f"""\
[app]
name = "{name}"
version = "1.0.0"

[runtime]
command = ["python", "main.py"]

[http]
health = "/healthz"

[[sensors]]
bind = "air"
type = "temperature"
location = "{location}"
"""


def push(http: httpx.Client, tmp: Path, name: str, location: str) -> None:
    directory = tmp / f"app-{name}"
    directory.mkdir()
    (directory / MANIFEST).write_text(manifest(name, location))
    (directory / "main.py").write_text(APP_MAIN)
    response = http.post("/api/v1/apps", files={"package": ("app.zip", zip_directory(directory), "application/zip")})
    assert response.status_code == 201, response.text


class AgentProcess:
    """``fieldhub agent run`` for one gateway at ``location``, its output in a file.

    The gateway is registered through the API, or, given a provisioning token, enrolls itself as an operator
    would (``fieldhub agent enroll``), which writes the hub's addresses and the credentials into its config.
    """

    def __init__(
        self, tmp: Path, hub: HubProcess, http: httpx.Client, node: str, location: str, token: str | None = None
    ) -> None:
        self.node, self.dir = node, tmp / node
        self.dir.mkdir()
        config: dict[str, Any] = {
            "spool": {"path": str(self.dir / "spool.db"), "max_mb": 16},
            "uplink": {"batch_delay_s": 0.05, "reconnect_min_s": 0.1, "reconnect_max_s": 1.0},
            "heartbeat": {"interval_s": 0.5},
            # Agents sharing one machine need port ranges of their own.
            "apps": {"dir": str(self.dir / "apps"), "ports": [PORTS[node], PORTS[node] + 99]},
            "sensors": [
                {
                    "name": "air",
                    "driver": "simulated",
                    "interval": 0.2,
                    "type": "temperature",
                    "location": location,
                    "options": {"kind": "sine"},
                }
            ],
        }
        path = self.dir / "agent.toml"
        if token is None:
            created = http.post("/api/v1/devices", json={"id": node, "name": node, "kind": "gateway"})
            assert created.status_code == 201, created.text
            secret = created.json()["credentials"]["password"]
            config["hub"] = {
                "url": f"mqtt://127.0.0.1:{hub.mqtt_port}",
                "api_url": hub.url,
                "device_id": node,
                "secret": secret,
            }
            path.write_text(tomli_w.dumps(config))
        else:
            config["hub"] = {"device_id": "unenrolled", "secret": "none"}
            path.write_text(tomli_w.dumps(config))
            enrolled = fieldhub(
                "agent", "--config", str(path), "enroll", "--hub", hub.url, "--token", token, "--id", node
            )
            assert enrolled.returncode == 0, enrolled.stderr
        self.config, self.log = path, self.dir / "agent.log"
        self.start()

    def start(self) -> None:
        """Run the agent, in a process group of its own (as a service manager would)."""
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cloud.cli.main", "agent", "--config", str(self.config), "run"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=cli_env(),
                start_new_session=True,
            )

    def kill(self) -> None:
        """The node is gone: SIGKILL to the agent's whole process group."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_for(check: Callable[[], Any], what: str, within: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy (a child process's state has no event to wait on)."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}; last: {result!r}")
        time.sleep(0.05)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[tuple[HubProcess, httpx.Client, dict[str, AgentProcess]]]:
    agents: dict[str, AgentProcess] = {}
    with running_hub_process(tmp_path / "hub") as hub, logged_in(hub.url) as http:
        try:
            for node, location in (("node-a", "greenhouse-a"), ("node-b", "greenhouse-b")):
                agents[node] = AgentProcess(tmp_path, hub, http, node, location)
            for node in agents:
                wait_for(lambda n=node: http.get(f"/api/v1/nodes/{n}").json().get("heartbeat"), f"{node} heartbeat")
            yield hub, http, agents
        finally:
            for agent in agents.values():
                agent.stop()


def deployment(http: httpx.Client, deployment_id: str) -> dict[str, Any]:
    response = http.get(f"/api/v1/deployments/{deployment_id}")
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    return doc


def test_an_app_runs_next_to_its_sensor_serves_it_through_the_link_and_stops_when_deleted(
    tmp_path: Path, platform: tuple[HubProcess, httpx.Client, dict[str, AgentProcess]]
) -> None:
    hub, http, agents = platform
    push(http, tmp_path, APP, "greenhouse-b")
    created = http.post("/api/v1/deployments", json={"app": APP})
    assert created.status_code == 201, created.text
    deployment_id = created.json()["id"]
    candidates = {c["node"]: c for c in created.json()["placement"]["candidates"]}
    assert candidates["node-b"]["accepted"] is True
    assert candidates["node-a"]["accepted"] is False
    assert "no temperature sensor at greenhouse-b" in candidates["node-a"]["reason"]

    running = wait_for(
        lambda: (d := deployment(http, deployment_id))["status"] in ("running", "failed") and d, "the app running"
    )
    assert running["status"] == "running", (running, agents["node-b"].log.read_text()[-3000:])
    (instance,) = running["instances"]
    assert instance["node"] == "node-b"
    assert instance["status"] == "running"
    pid = instance["services"]["main"]["pid"]
    assert alive(pid)

    link = f"{hub.url}{created.json()['link']}"
    answer = http.get(link)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["reading"]["node"] == "node-b"
    assert body["reading"]["sensor"] == "air"
    assert isinstance(body["reading"]["value"], float)
    assert body["published"]["key"] == f"{APP}:requests"
    assert body["prefix"] == f"/apps/default/{APP}"

    # The output reached the hub as telemetry of the node, through its spool.
    wait_for(
        lambda: http.get("/api/v1/devices/node-b/latest").json().get("values", {}).get(f"{APP}:requests"),
        "the app's output at the hub",
    )

    assert http.delete(f"/api/v1/deployments/{deployment_id}").status_code == 204
    wait_for(lambda: not alive(pid), "the app's process to stop on the node")
    # Where a link leads is cached for a second: then the hub says the app is not deployed (404).
    wait_for(lambda: http.get(link).status_code == 404, "the link gone with the deployment", within=10)


def test_a_deployment_waits_for_a_node_then_runs_on_the_gateway_that_enrolls_there(
    tmp_path: Path, platform: tuple[HubProcess, httpx.Client, dict[str, AgentProcess]]
) -> None:
    hub, http, agents = platform
    push(http, tmp_path, "misting", "greenhouse-c")
    created = http.post("/api/v1/deployments", json={"app": "misting"})
    assert created.status_code == 201, created.text
    deployment_id = created.json()["id"]
    assert created.json()["status"] == "pending"
    assert created.json()["placement"]["reason"] == (
        "no node qualifies among 2: no temperature sensor at greenhouse-c (2 nodes)"
    )

    token = http.post("/api/v1/provisioning-tokens", json={"uses": 1}).json()["token"]
    agents["node-c"] = AgentProcess(tmp_path, hub, http, "node-c", "greenhouse-c", token=token)
    running = wait_for(
        lambda: (d := deployment(http, deployment_id))["status"] in ("running", "failed") and d, "the app running"
    )
    assert running["status"] == "running", (running, agents["node-c"].log.read_text()[-3000:])
    assert [i["node"] for i in running["instances"]] == ["node-c"]
    assert [t["status"] for t in running["timeline"]] == ["pending", "deploying", "running"]
    answer = http.get(f"{hub.url}{running['link']}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["reading"]["node"] == "node-c"


def test_the_template_app_runs_as_written_on_two_nodes_behind_one_link(
    tmp_path: Path, platform: tuple[HubProcess, httpx.Client, dict[str, AgentProcess]]
) -> None:
    hub, http, _ = platform
    init = fieldhub("app", "init", "hello", str(tmp_path / "hello"))
    assert init.returncode == 0, init.stderr
    package = ("app.zip", zip_directory(tmp_path / "hello"), "application/zip")
    assert http.post("/api/v1/apps", files={"package": package}).status_code == 201
    created = http.post("/api/v1/deployments", json={"app": "hello", "replicas": 2})
    assert created.status_code == 201, created.text
    running = wait_for(
        lambda: (d := deployment(http, created.json()["id"]))["status"] in ("running", "failed") and d,
        "the template running",
    )
    assert running["status"] == "running", (running["timeline"], running["instances"])
    assert sorted(i["node"] for i in running["instances"]) == ["node-a", "node-b"]
    for _ in range(4):  # each instance answers in turn
        answer = http.get(f"{hub.url}{running['link']}")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"app": "hello", "message": "hello from Fieldhub"}


def test_a_dead_nodes_app_serves_from_another_node_and_its_return_leaves_exactly_one_instance(
    tmp_path: Path, platform: tuple[HubProcess, httpx.Client, dict[str, AgentProcess]]
) -> None:
    hub, http, agents = platform
    agents["node-b2"] = AgentProcess(tmp_path, hub, http, "node-b2", "greenhouse-b")
    wait_for(lambda: http.get("/api/v1/nodes/node-b2").json().get("heartbeat"), "node-b2 heartbeat")
    push(http, tmp_path, APP, "greenhouse-b")
    created = http.post("/api/v1/deployments", json={"app": APP})
    assert created.status_code == 201, created.text
    deployment_id, link = created.json()["id"], f"{hub.url}{created.json()['link']}"
    running = wait_for(lambda: (d := deployment(http, deployment_id))["status"] == "running" and d, "the app running")
    [first] = running["instances"]
    dead, other = first["node"], ({"node-b", "node-b2"} - {first["node"]}).pop()

    # The node goes away whole: its agent's process group, and the app it ran.
    agents[dead].kill()
    with contextlib.suppress(ProcessLookupError):
        os.kill(first["services"]["main"]["pid"], signal.SIGKILL)

    def served_by_the_other() -> bool:
        answer = http.get(link)
        return answer.status_code == 200 and answer.json()["reading"]["node"] == other

    wait_for(served_by_the_other, f"the app serving from {other}", within=40)
    moved = deployment(http, deployment_id)
    assert [(i["node"], i["status"]) for i in moved["instances"]] == [(other, "running")]
    assert any(f"node {dead} is dead" in t["reason"] and "rescheduled" in t["reason"] for t in moved["timeline"])
    kinds = {(e["kind"], e.get("node")) for e in http.get("/api/v1/events", params={"limit": 100}).json()["items"]}
    assert {("node.dead", dead), ("deployment.rescheduled", dead)} <= kinds
    assert http.get(f"/api/v1/nodes/{dead}").json()["health"] == "dead"

    # The node comes back: it hears that its instance went elsewhere; exactly one instance runs.
    agents[dead].start()
    wait_for(lambda: http.get(f"/api/v1/nodes/{dead}").json()["health"] == "healthy", f"{dead} back")
    wait_for(
        lambda: (
            ("node.back", dead)
            in {
                (e["kind"], e.get("node")) for e in http.get("/api/v1/events", params={"kind": "node."}).json()["items"]
            }
        ),
        "the node's return recorded",
    )
    after = deployment(http, deployment_id)
    assert after["status"] == "running"
    assert [(i["node"], i["status"]) for i in after["instances"]] == [(other, "running")]
    assert served_by_the_other()


def test_an_agent_killed_outright_stops_the_apps_it_left_when_it_comes_back(
    tmp_path: Path, platform: tuple[HubProcess, httpx.Client, dict[str, AgentProcess]]
) -> None:
    hub, http, agents = platform
    push(http, tmp_path, APP, "greenhouse-b")
    created = http.post("/api/v1/deployments", json={"app": APP})
    deployment_id, link = created.json()["id"], f"{hub.url}{created.json()['link']}"
    running = wait_for(lambda: (d := deployment(http, deployment_id))["status"] == "running" and d, "the app running")
    old = running["instances"][0]["services"]["main"]["pid"]

    agents["node-b"].kill()  # kill -9 of the agent's group: the app, in a session of its own, lives on
    assert alive(old)
    agents["node-b"].start()
    wait_for(lambda: not alive(old), "the leftover app stopped by the agent's next run")

    def serving_anew() -> int | None:
        found = deployment(http, deployment_id)["instances"][0]
        pid = found["services"].get("main", {}).get("pid")
        return (
            pid
            if found["status"] == "running" and pid not in (None, old) and http.get(link).status_code == 200
            else None
        )

    new = wait_for(serving_anew, "the app running again under its agent")
    assert alive(new)

"""The agent's app host against a real hub: services wired on the node, the SDK, actuators, and failures reported.

The hub and the agent run in the test's event loop (the end-to-end test with agent processes and the link is
tests/integration/test_app_platform.py); the apps are real processes in their own virtual environments.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import zipfile
from collections.abc import Iterator
from contextlib import AsyncExitStack, closing
from pathlib import Path
from typing import Any

import docker
import pytest
from gpiozero.pins.mock import MockFactory

from cloud.runtime import HubRuntime
from contracts.apps import MANIFEST
from hub.apps.template import zip_directory
from tests.helpers.agent import running_agent
from tests.helpers.hub import Api, running_hub
from tests.helpers.podman import BASE_IMAGE, PodmanService
from tests.helpers.ports import free_port
from tests.helpers.process import alive
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(120)

NODE = "pi-lab"
#: Two services: "reader" turns each reading of the bound sensor into an output wired to "actor"'s input;
#: "actor" switches the bound fan on when the temperature is above zero and notes what it did.
WIRED_MANIFEST = """\
[app]
name = "thermostat"
version = "1.0.0"

[[services]]
name = "reader"
runtime = { command = ["python", "reader.py"] }
outputs = ["temp"]
default = true

[[services]]
name = "actor"
runtime = { command = ["python", "actor.py"] }
inputs = ["temps"]

[[wires]]
from = "reader.temp"
to = "actor.temps"

[[sensors]]
bind = "air"
type = "temperature"
location = "lab"

[[actuators]]
bind = "fan"
type = "relay"
"""
READER = """\
import fieldhub_sdk

for reading in fieldhub_sdk.readings("air"):
    fieldhub_sdk.publish("temp", reading["value"])
"""
ACTOR = """\
import json
import os
from pathlib import Path

import fieldhub_sdk

seen = Path(os.environ["FIELDHUB_DATA_DIR"]) / "seen.json"
for reading in fieldhub_sdk.readings("temps"):
    done = fieldhub_sdk.command("fan", "write", {"value": reading["value"] > 0})
    latest = fieldhub_sdk.latest("air")
    seen.write_text(json.dumps({"input": reading, "command": done, "latest": latest}))
"""


def agent_config(tmp_path: Path, hub: HubRuntime, secret: str, **apps: Any) -> dict[str, Any]:
    return {
        "hub": {"url": f"mqtt://127.0.0.1:{hub.mqtt_port}", "api_url": hub.url, "device_id": NODE, "secret": secret},
        "spool": {"path": str(tmp_path / "spool.db"), "max_mb": 16},
        "uplink": {"batch_delay_s": 0.05, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5},
        "heartbeat": {"interval_s": 0.5},
        "logs": {"ship": False},
        "apps": {"dir": str(tmp_path / "apps"), "stop_grace_s": 2, **apps},
        "sensors": [
            {
                "name": "air",
                "driver": "simulated",
                "interval": 0.05,
                "type": "temperature",
                "location": "lab",
                "options": {"kind": "sine", "period_s": 1.0},
            },
            {
                "name": "fan",
                "driver": "gpio_out",
                "interval": 5,
                "type": "relay",
                "labels": {"kind": "actuator"},
                "options": {"pin": 17},
            },
        ],
    }


async def push(api: Api, tmp_path: Path, files: dict[str, str]) -> None:
    directory = tmp_path / "app"
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    package = ("app.zip", zip_directory(directory), "application/zip")
    response = await api.http.post("/api/v1/apps", files={"package": package})
    assert response.status_code == 201, response.text


async def deployed(api: Api, app: str) -> str:
    async def placed() -> str | None:
        response = await api.http.post("/api/v1/deployments", json={"app": app})
        assert response.status_code == 201, response.text
        if response.json()["status"] == "deploying":
            return str(response.json()["id"])
        await api.http.delete(f"/api/v1/deployments/{response.json()['id']}")
        return None

    return await eventually(placed, what="the node's heartbeat, so that the app is placed")


async def settled(api: Api, deployment: str, until: tuple[str, ...] = ("running", "failed")) -> dict[str, Any]:
    """The deployment once its status is one of ``until``."""

    async def check() -> dict[str, Any] | None:
        found: dict[str, Any] = (await api.http.get(f"/api/v1/deployments/{deployment}")).json()
        return found if found["status"] in until else None

    return await eventually(check, within=60, what=f"deployment {deployment} {' or '.join(until)}")


@pytest.fixture
async def secret(api: Api) -> str:
    return str((await api.create_device(NODE, kind="gateway"))["credentials"]["password"])


async def test_wired_services_read_the_sensor_command_the_actuator_and_publish_outputs(
    hub: HubRuntime, api: Api, secret: str, tmp_path: Path, pins: MockFactory
) -> None:
    await push(api, tmp_path, {MANIFEST: WIRED_MANIFEST, "reader.py": READER, "actor.py": ACTOR})
    async with running_agent(agent_config(tmp_path, hub, secret)) as agent:
        deployment = await deployed(api, "thermostat")
        found = await settled(api, deployment)
        assert found["status"] == "running", found
        [instance] = found["instances"]
        assert set(instance["services"]) == {"reader", "actor"}
        seen_file = tmp_path / "apps" / "data" / f"{deployment}-0" / "seen.json"

        async def fan_switched_both_ways() -> bool:
            states = {state for _, state in pins.pin(17).states}
            return {True, False} <= states

        # The sine goes above and below zero each second: the fan follows through the wire and the actuator.
        await eventually(fan_switched_both_ways, within=20, what="the fan switched on and off by the app")
        seen = await eventually(lambda: _json(seen_file), what="the actor's notes")
        assert seen["input"]["key"] == "thermostat:temp" and seen["input"]["sensor"] == "reader.temp"
        assert seen["command"]["written"] == ["fan"]
        assert seen["latest"]["sensor"] == "air" and seen["latest"]["node"] == NODE

        # The output reached the hub as the node's telemetry, through the spool.
        async def output_stored() -> bool:
            latest = (await api.http.get(f"/api/v1/devices/{NODE}/latest")).json()
            return "thermostat:temp" in latest["values"]

        await eventually(output_stored, what="the app's output stored by the hub")

        pids = [service["pid"] for service in instance["services"].values()]
        assert all(map(alive, pids))

        # Heartbeats tell what the instance uses (for autoscaling): CPU from the second look on, and memory.
        async def load_reported() -> dict[str, Any] | None:
            beat = (await api.http.get(f"/api/v1/nodes/{NODE}")).json()["heartbeat"]
            loads = [a for a in beat.get("apps", []) if a["deployment"] == deployment and a["cpu_pct"] is not None]
            return loads[0] if loads else None

        load = await eventually(load_reported, what="the instance's load in a heartbeat")
        assert load["replica"] == 0 and load["cpu_pct"] >= 0 and load["rss_mb"] > 5
        assert (await api.http.delete(f"/api/v1/deployments/{deployment}")).status_code == 204
        await eventually(lambda: _all_gone(pids), what="the app's processes stopped on the node")
        await eventually(lambda: _gone(seen_file.parent), what="the instance's data removed")
        assert agent.apps is not None


async def _json(path: Path) -> Any:
    try:
        return json.loads(await asyncio.to_thread(path.read_text))
    except (FileNotFoundError, ValueError):
        return None


async def _all_gone(pids: list[int]) -> bool:
    return not any(map(alive, pids))


async def _gone(path: Path) -> bool:
    return not await asyncio.to_thread(path.exists)


UNHEALTHY = """\
import os
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(500)
        self.end_headers()


HTTPServer((os.environ["FIELDHUB_HOST"], int(os.environ["PORT"])), Handler).serve_forever()
"""


@pytest.mark.parametrize(
    ("files", "extra", "status", "expected"),
    [
        pytest.param(
            {"main.py": "print('starting up')\nprint('boom', flush=True)\nraise SystemExit(3)\n"},
            "",
            "crashloop",
            "crash loop (2 failures in a row): service main exited with code 3; restarting in 0.2 s; "
            "last output: starting up | boom",
            id="crash",
        ),
        pytest.param(
            {"main.py": "print('never runs')\n", "requirements.txt": "fieldhub-no-such-package==1.0\n"},
            'requirements = "requirements.txt"\n',
            "failed",
            "installing requirements.txt failed (exit 1): ",
            id="requirements",
        ),
        pytest.param(
            {"main.py": UNHEALTHY},
            '[http]\nhealth = "/healthz"\n',
            "crashloop",
            "crash loop (2 failures in a row): service main did not answer /healthz on its port within 1 s",
            id="unhealthy",
        ),
    ],
)
async def test_an_instance_that_cannot_run_is_reported_with_the_reason(
    hub: HubRuntime,
    api: Api,
    secret: str,
    tmp_path: Path,
    pins: MockFactory,
    files: dict[str, str],
    extra: str,
    status: str,
    expected: str,
) -> None:
    manifest = f'[app]\nname = "broken"\nversion = "1.0.0"\n[runtime]\ncommand = ["python", "main.py"]\n{extra}'
    await push(api, tmp_path, {MANIFEST: manifest, **files})
    # No package index here: pip fails at once instead of searching one. Restarts fast, a loop after two.
    settings = {"health_timeout_s": 1, "restart_min_s": 0.1, "crash_loop_after": 2}
    config = agent_config(tmp_path, hub, secret, pip_args=["--no-index"], **settings)
    async with running_agent(config):
        deployment = await deployed(api, "broken")
        # Every instance failed or crashing in a loop: the deployment is failed, with the node's reason.
        found = await settled(api, deployment, until=("failed",))
    [instance] = found["instances"]
    assert instance["status"] == status
    assert instance["reason"].startswith(expected), instance["reason"]
    assert found["timeline"][-1]["reason"] == f"node {NODE}: {instance['reason']}"
    if "requirements.txt" in files:
        assert "fieldhub-no-such-package" in instance["reason"]
        # A failed environment is not left half-made for the next try.
        assert not any((tmp_path / "apps" / "envs").iterdir())
    else:
        main = instance["services"]["main"]
        assert main["restarts"] >= 2 and main["status"] == "crashloop"
        assert main["exit_code"] == (3 if "exited" in expected else None)


#: Crashes on its first start, then serves; its health check fails from the moment /sick is asked.
FLAKY = """\
import os, pathlib
from http.server import BaseHTTPRequestHandler, HTTPServer

data = pathlib.Path(os.environ["FIELDHUB_DATA_DIR"])
(data / "pids").open("a").write(f"{os.getpid()}\\n")
if not (data / "crashed-once").exists():
    (data / "crashed-once").touch()
    raise SystemExit("first start: crashing on purpose")
sick = False


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        global sick
        sick = sick or self.path == "/sick"
        self.send_response(500 if sick and self.path == "/healthz" else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer((os.environ["FIELDHUB_HOST"], int(os.environ["PORT"])), Handler).serve_forever()
"""


async def test_a_crashed_or_unhealthy_service_is_restarted_by_its_node_even_without_the_hub(
    tmp_path: Path, pins: MockFactory
) -> None:
    data, port = tmp_path / "hub", free_port()
    manifest = '[app]\nname = "flaky"\nversion = "1.0.0"\n[runtime]\ncommand = ["python", "main.py"]\n[http]\n'
    pids_file: Path | None = None
    async with AsyncExitStack() as stack:
        hub = await stack.enter_async_context(running_hub(data, mqtt_port=port))
        api = await Api.login(hub.url)
        secret = str((await api.create_device(NODE, kind="gateway"))["credentials"]["password"])
        await push(api, tmp_path, {MANIFEST: manifest, "main.py": FLAKY})
        settings = {"restart_min_s": 0.1, "health_interval_s": 0.2, "unhealthy_after": 2}
        agent_stack = AsyncExitStack()
        await agent_stack.enter_async_context(running_agent(agent_config(tmp_path, hub, secret, **settings)))
        try:
            deployment = await deployed(api, "flaky")
            found = await settled(api, deployment, until=("running",))
            [instance] = found["instances"]
            assert instance["services"]["main"]["restarts"] == 1  # the crash of its first start
            pids_file = tmp_path / "apps" / "data" / f"{deployment}-0" / "pids"
            link = found["link"]
            assert (await api.http.get(f"{link}sick")).status_code == 200
            # Unhealthy from now on: its node restarts it (a new process), the hub hears of the restart.
            await eventually(lambda: _lines_at_least(pids_file, 3), what="the unhealthy service restarted")
            restarted = await settled(api, deployment, until=("running",))
            assert restarted["instances"][0]["services"]["main"]["restarts"] >= 2
            await api.close()
            await stack.aclose()  # the hub goes away

            # Cut off from the hub, the node still restarts its app when the process dies.
            pids = await _lines_at_least(pids_file, 3)
            assert pids is not None
            os.kill(int(pids[-1]), signal.SIGKILL)
            after = await eventually(lambda: _lines_at_least(pids_file, len(pids) + 1), what="restarted offline")
            assert alive(int(after[-1]))
        finally:
            await agent_stack.aclose()


async def _lines_at_least(path: Path, count: int) -> list[str] | None:
    try:
        lines = (await asyncio.to_thread(path.read_text)).split()
    except FileNotFoundError:
        return None
    return lines if len(lines) >= count else None


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodmanService]:
    with PodmanService(tmp_path_factory.mktemp("podman")) as service:
        yield service


CONTAINER_MANIFEST = """\
[app]
name = "boxed"
version = "1.0.0"

[runtime]
kind = "container"
dockerfile = "Dockerfile"

[http]
health = "/healthz"
"""
DOCKERFILE = f"""\
FROM {BASE_IMAGE}
COPY www /www
CMD ["sh", "-c", "exec httpd -f -p $PORT -h /www"]
"""


async def test_a_container_app_is_built_run_and_reached_through_its_link(
    hub: HubRuntime, api: Api, secret: str, tmp_path: Path, pins: MockFactory, podman: PodmanService
) -> None:
    files = {MANIFEST: CONTAINER_MANIFEST, "Dockerfile": DOCKERFILE, "www/healthz": "ok\n", "www/index.html": "boxed\n"}
    await push(api, tmp_path, files)
    async with running_agent(agent_config(tmp_path, hub, secret, docker_host=podman.url)):
        deployment = await deployed(api, "boxed")
        found = await settled(api, deployment)
        assert found["status"] == "running", found
        [instance] = found["instances"]
        container = instance["services"]["main"]["container"]
        assert container and instance["services"]["main"]["pid"] is None
        answer = await api.http.get(f"{found['link']}index.html")
        assert answer.status_code == 200, answer.text
        assert answer.text == "boxed\n"
        with closing(podman.client()) as engine:
            assert engine.containers.get(container).status == "running"
            assert (await api.http.delete(f"/api/v1/deployments/{deployment}")).status_code == 204

            async def removed() -> bool:
                try:
                    await asyncio.to_thread(engine.containers.get, container)
                except docker.errors.APIError as exc:  # NotFound, or podman's 500 while it removes the container
                    return "no such container" in str(exc) or isinstance(exc, docker.errors.NotFound)
                return False

            await eventually(removed, what="the container removed from the node")


async def test_an_app_keeps_its_readings_and_loses_no_output_while_the_node_is_cut_off(
    tmp_path: Path, pins: MockFactory
) -> None:
    data, port = tmp_path / "hub", free_port()
    seen_file: Path | None = None
    async with AsyncExitStack() as stack:
        hub = await stack.enter_async_context(running_hub(data, mqtt_port=port))
        api = await Api.login(hub.url)
        secret = str((await api.create_device(NODE, kind="gateway"))["credentials"]["password"])
        await push(api, tmp_path, {MANIFEST: WIRED_MANIFEST, "reader.py": READER, "actor.py": ACTOR})
        agent_stack = AsyncExitStack()
        await agent_stack.enter_async_context(running_agent(agent_config(tmp_path, hub, secret)))
        try:
            deployment = await deployed(api, "thermostat")
            assert (await settled(api, deployment))["status"] == "running"
            seen_file = tmp_path / "apps" / "data" / f"{deployment}-0" / "seen.json"
            await eventually(lambda: _json(seen_file), what="the app at work")
            await api.close()
            await stack.aclose()  # the hub goes away; the node and its app stay

            cut_off = int(time.time() * 1000)

            async def reading_after(ts: int) -> Any:
                seen = await _json(seen_file)
                return seen if seen and seen["input"]["ts"] > ts and seen["latest"]["ts"] > ts else None

            # Readings keep reaching the app from the node's own sensor, through the wire to its actor.
            await eventually(lambda: reading_after(cut_off + 500), what="readings while the hub is away")
            back_at = int(time.time() * 1000)
            async with running_hub(data, mqtt_port=port) as hub_again:
                api = await Api.login(hub_again.url)

                async def outputs_of_the_outage() -> int | None:
                    query = {"key": "thermostat:temp", "start": cut_off, "end": back_at}
                    found = (await api.http.get(f"/api/v1/devices/{NODE}/telemetry", params=query)).json()
                    # A reading every 50 ms for at least half a second: ten outputs at least.
                    return len(found["points"]) if len(found["points"]) >= 10 else None

                # The outputs published while cut off went through the spool and reached the hub.
                await eventually(outputs_of_the_outage, within=30, what="the outage's outputs stored")
                await api.close()
        finally:
            await agent_stack.aclose()


def write_wheel(directory: Path, name: str, version: str, module: str, source: str) -> None:
    """A pure-Python wheel of one module, written as the format says (no build tool, no index needed)."""
    dist = f"{name.replace('-', '_')}-{version}"
    files = {
        f"{module}.py": source,
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [f"{path},," for path in files] + [f"{dist}.dist-info/RECORD,,"]
    files[f"{dist}.dist-info/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(directory / f"{dist}-py3-none-any.whl", "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)


async def test_requirements_are_installed_once_per_version_into_the_apps_own_environment(
    hub: HubRuntime, api: Api, secret: str, tmp_path: Path, pins: MockFactory
) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    write_wheel(wheels, "fieldhub-test-greeting", "1.2.0", "greeting", 'WORDS = "hello from a wheel"\n')
    manifest = (
        '[app]\nname = "greeter"\nversion = "1.0.0"\n'
        '[runtime]\ncommand = ["python", "main.py"]\nrequirements = "requirements.txt"\n'
    )
    main = (
        "import os, pathlib, sys, time, greeting\n"
        "out = pathlib.Path(os.environ['FIELDHUB_DATA_DIR']) / 'greeting.txt'\n"
        "out.write_text(greeting.WORDS + ' in ' + sys.prefix)\n"
        "time.sleep(600)\n"
    )
    await push(
        api, tmp_path, {MANIFEST: manifest, "main.py": main, "requirements.txt": "fieldhub-test-greeting==1.2.0\n"}
    )
    # The node's package index: a directory here (pip's own configuration, or pip_args, say where it is).
    config = agent_config(tmp_path, hub, secret, pip_args=["--no-index", "--find-links", str(wheels)])
    async with running_agent(config):
        first = await deployed(api, "greeter")
        assert (await settled(api, first))["status"] == "running"
        written = await eventually(
            lambda: _text(tmp_path / "apps" / "data" / f"{first}-0" / "greeting.txt"), what="the app's greeting"
        )
        [env] = (tmp_path / "apps" / "envs").iterdir()
        assert written == f"hello from a wheel in {env}"
        ready = (env / ".fieldhub-ready").stat().st_mtime_ns
        assert (await api.http.delete(f"/api/v1/deployments/{first}")).status_code == 204

        # Deployed again: the environment of that version is reused as it is, pip does not run.
        second = await deployed(api, "greeter")
        assert (await settled(api, second))["status"] == "running"
        assert [p.name for p in (tmp_path / "apps" / "envs").iterdir()] == [env.name]
        assert (env / ".fieldhub-ready").stat().st_mtime_ns == ready


async def _text(path: Path) -> str | None:
    try:
        return await asyncio.to_thread(path.read_text)
    except FileNotFoundError:
        return None

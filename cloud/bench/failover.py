"""Failover benchmark: from a node's last heartbeat to its app serving on another node, and a crashed app's restart.

A hub in this process and two real ``fieldhub agent`` processes (default settings: heartbeats every 5 s, dead
after 10 s) with a temperature sensor at the same place; an app bound to it, one replica, whose answer names
the node serving it. Each run kills the whole process group of the node running the app (and the app), and
times from that node's last heartbeat (as the hub received it) until the app's link answers from the other
node; the killed node is then started again and waits for the next run. Baseline, in the same run: the dead
threshold (``node_dead_s``), the part of the failover that is waiting by design.

Then the app's process is killed on its node (SIGKILL) ``--restarts`` times and the time until its link answers
again is measured; baseline: the agent's first restart delay (``[apps] restart_min_s``, 1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import tomli_w

from cloud.bench.agent import _gateway
from cloud.bench.common import hub_with_admin
from cloud.runtime import HubRuntime
from contracts.apps import MANIFEST
from hub.apps.template import zip_directory

_APP = "where"
_MANIFEST = f"""\
[app]
name = "{_APP}"
version = "1.0.0"

[runtime]
command = ["python", "main.py"]

[http]
health = "/healthz"

[[sensors]]
bind = "air"
type = "temperature"
location = "bench"
"""
_MAIN = """\
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{os.environ['FIELDHUB_NODE']} {os.getpid()}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer((os.environ["FIELDHUB_HOST"], int(os.environ["PORT"])), Handler).serve_forever()
"""
_TIMEOUT_S = 90.0
_POLL_S = 0.05


class _Node:
    """A ``fieldhub agent`` process of one gateway, in a process group of its own."""

    def __init__(self, tmp: Path, hub: HubRuntime, name: str, secret: str, ports: int) -> None:
        config = {
            "hub": {
                "url": f"mqtt://127.0.0.1:{hub.mqtt_port}",
                "api_url": hub.url,
                "device_id": name,
                "secret": secret,
            },
            "spool": {"path": str(tmp / f"{name}.db"), "max_mb": 64},
            "logs": {"ship": False, "level": "WARNING"},
            "apps": {"dir": str(tmp / f"{name}-apps"), "ports": [ports, ports + 99]},
            "sensors": [
                {"name": "air", "driver": "simulated", "interval": 1, "type": "temperature", "location": "bench"}
            ],
        }
        self.name, self.config = name, tmp / f"{name}.toml"
        self.config.write_text(tomli_w.dumps(config))
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "cloud.cli.main", "agent", "--config", str(self.config)),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            await self.proc.wait()


async def _until(check: Any, what: str) -> Any:
    deadline = time.monotonic() + _TIMEOUT_S
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(_POLL_S)
    raise TimeoutError(f"{what} did not happen within {_TIMEOUT_S:.0f} s")


async def _serving(http: httpx.AsyncClient, link: str) -> tuple[str, int] | None:
    """The node and pid answering the link, or ``None``."""
    try:
        answer = await http.get(link)
    except httpx.HTTPError:
        return None
    if answer.status_code != 200:
        return None
    node, pid = answer.text.split()
    return node, int(pid)


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fieldhub-failover-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        async with hub_with_admin(tmp / "hub") as (hub, http):
            nodes = {}
            for i, name in enumerate(("bench-n1", "bench-n2")):
                nodes[name] = _Node(tmp, hub, name, await _gateway(hub, name), 22000 + 100 * i)
                await nodes[name].start()
            try:
                return await _measure(args, hub, http, nodes, tmp)
            finally:
                for node in nodes.values():
                    await node.kill()


async def _measure(
    args: argparse.Namespace, hub: HubRuntime, http: httpx.AsyncClient, nodes: dict[str, _Node], tmp: Path
) -> dict[str, Any]:
    app = tmp / "app"
    app.mkdir()
    (app / MANIFEST).write_text(_MANIFEST)
    (app / "main.py").write_text(_MAIN)
    pushed = await http.post("/api/v1/apps", files={"package": ("app.zip", zip_directory(app), "application/zip")})
    pushed.raise_for_status()

    async def both_heard() -> bool:
        found = [(await http.get(f"/api/v1/nodes/{name}")).json()["health"] for name in nodes]
        return found == ["healthy", "healthy"]

    await _until(both_heard, "both nodes' heartbeats")
    created = (await http.post("/api/v1/deployments", json={"app": _APP})).json()
    link = created["link"]
    serving = await _until(lambda: _serving(http, link), "the app serving")
    failovers = []
    for _ in range(args.runs):
        await _until(both_heard, "both nodes healthy")
        dead, pid = serving
        beat = await hub.services.store.nodes.get_heartbeat(dead)
        assert beat is not None
        await nodes[dead].kill()
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

        async def elsewhere(dead: str = dead) -> tuple[str, int] | None:
            found = await _serving(http, link)
            return found if found is not None and found[0] != dead else None

        serving = await _until(elsewhere, "the app serving from the other node")
        failovers.append((time.time() * 1000 - beat.received) / 1000)
        await nodes[dead].start()
    restarts = []
    for _ in range(args.restarts):
        pid = serving[1]
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)

        async def restarted(pid: int = pid) -> tuple[str, int] | None:
            found = await _serving(http, link)
            return found if found is not None and found[1] != pid else None

        serving = await _until(restarted, "the app restarted")
        restarts.append(time.monotonic() - killed)
    dead_s = hub.settings.node_dead_s
    return {
        "runs": args.runs,
        "failover_s": [round(f, 2) for f in failovers],
        "failover_median_s": round(statistics.median(failovers), 2),
        "failover_max_s": round(max(failovers), 2),
        "baseline_node_dead_s": dead_s,
        "failover_ratio": round(statistics.median(failovers) / dead_s, 2),
        "restart_s": [round(r, 2) for r in restarts],
        "restart_median_s": round(statistics.median(restarts), 2),
        "baseline_restart_min_s": 1.0,
    }


def main(args: argparse.Namespace) -> int:
    result = asyncio.run(_run(args))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"failover benchmark ({result['runs']} runs: two agent processes, one app, its node killed)")
    print(
        f"  last heartbeat to serving on the other node: median {result['failover_median_s']} s, "
        f"max {result['failover_max_s']} s (node_dead_s {result['baseline_node_dead_s']} s; "
        f"ratio {result['failover_ratio']})"
    )
    print(f"  runs: {', '.join(str(f) for f in result['failover_s'])} s")
    print(
        f"  a killed app answering again: median {result['restart_median_s']} s "
        f"(first restart delay {result['baseline_restart_min_s']} s); runs: {result['restart_s']}"
    )
    return 0

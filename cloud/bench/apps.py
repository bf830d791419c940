"""App benchmark: push-to-running time of the template app, cold and cached, and the agent's memory with an app.

A real hub (in this process) and a real ``fieldhub agent`` process with 10 simulated sensors. The template app
(``fieldhub app init``) is pushed and deployed; the time runs from the start of the upload until the hub says
the deployment is ``running`` (the node fetched and verified the package, made the virtual environment,
started the app and saw its health check answer). Then it is undeployed and deployed again: the second run
finds the app's environment cached on the node.

Memory, against a baseline in the same run: the agent's resident memory before any app (the same process,
10 sensors, the app machinery not imported yet) and with the app running (the app's own process not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import tomli_w

from cloud.bench.agent import _gateway, _rss_mb
from cloud.bench.common import hub_with_admin
from cloud.runtime import HubRuntime
from hub.apps.template import write_template, zip_directory

_NODE = "bench-apps"
_APP = "bench-template"
_SETTLE_S = 3.0
_TIMEOUT_S = 120.0


def _agent_config(tmp: Path, hub: HubRuntime, secret: str) -> dict[str, Any]:
    sensors: list[dict[str, Any]] = [
        {"name": f"s{i}", "driver": "simulated", "interval": 0.1, "type": "temperature", "options": {"kind": "sine"}}
        for i in range(10)
    ]
    return {
        "hub": {"url": f"mqtt://127.0.0.1:{hub.mqtt_port}", "api_url": hub.url, "device_id": _NODE, "secret": secret},
        "spool": {"path": str(tmp / "spool.db"), "max_mb": 256},
        "heartbeat": {"interval_s": 0.5},
        "logs": {"ship": False, "level": "WARNING"},
        "apps": {"dir": str(tmp / "apps")},
        "sensors": sensors,
    }


async def _status(http: httpx.AsyncClient, deployment: str, wanted: str) -> None:
    deadline = time.monotonic() + _TIMEOUT_S
    while time.monotonic() < deadline:
        found = (await http.get(f"/api/v1/deployments/{deployment}")).json()
        if found["status"] == wanted:
            return
        if found["status"] == "failed":
            raise RuntimeError(f"the app failed on the node: {found['timeline'][-1]['reason']}")
        await asyncio.sleep(0.02)
    raise TimeoutError(f"deployment {deployment} not {wanted} within {_TIMEOUT_S:.0f} s")


async def _deploy(http: httpx.AsyncClient, package: bytes | None) -> tuple[str, float]:
    """Push (when given a package) and deploy; the deployment and the seconds until it ran."""
    started = time.monotonic()
    if package is not None:
        pushed = await http.post("/api/v1/apps", files={"package": ("app.zip", package, "application/zip")})
        pushed.raise_for_status()
    while True:  # the node's first heartbeat may still be on its way
        created = await http.post("/api/v1/deployments", json={"app": _APP})
        created.raise_for_status()
        deployment = str(created.json()["id"])
        if created.json()["status"] != "pending":
            break
        await http.delete(f"/api/v1/deployments/{deployment}")
        await asyncio.sleep(0.1)
    await _status(http, deployment, "running")
    return deployment, time.monotonic() - started


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fieldhub-apps-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        async with hub_with_admin(tmp / "hub") as (hub, http):
            secret = await _gateway(hub, _NODE)
            config = tmp / "agent.toml"
            config.write_text(tomli_w.dumps(_agent_config(tmp, hub, secret)))
            write_template(_APP, tmp / "app")
            package = zip_directory(tmp / "app")
            agent = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cloud.cli.main",
                "agent",
                "--config",
                str(config),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            try:
                await asyncio.sleep(_SETTLE_S)  # imports, connection, first heartbeats
                before = _rss_mb(agent.pid)
                deployment, cold = await _deploy(http, package)
                await asyncio.sleep(_SETTLE_S)
                with_app = _rss_mb(agent.pid)
                (await http.delete(f"/api/v1/deployments/{deployment}")).raise_for_status()
                cached = min([(await _redeploy(http)) for _ in range(args.runs)])
            finally:
                agent.terminate()
                await asyncio.wait_for(agent.wait(), 30)
    return {
        "push_to_running_cold_s": round(cold, 2),
        "push_to_running_cached_s": round(cached, 2),
        "agent_rss_mb_no_apps": round(before, 1),
        "agent_rss_mb_with_app": round(with_app, 1),
        "rss_ratio": round(with_app / before, 2),
    }


async def _redeploy(http: httpx.AsyncClient) -> float:
    deployment, seconds = await _deploy(http, None)
    (await http.delete(f"/api/v1/deployments/{deployment}")).raise_for_status()
    return seconds


def main(args: argparse.Namespace) -> int:
    result = asyncio.run(_run(args))
    if args.json:
        print(json.dumps(result))
        return 0
    print("apps benchmark (the template app, a real agent process with 10 sensors)")
    print(f"  push to running, cold: {result['push_to_running_cold_s']} s")
    print(f"  deploy to running, environment cached (best of {args.runs}): {result['push_to_running_cached_s']} s")
    print(
        f"  agent resident memory with the app running: {result['agent_rss_mb_with_app']} MB "
        f"(before any app: {result['agent_rss_mb_no_apps']} MB; ratio {result['rss_ratio']:.2f})"
    )
    return 0

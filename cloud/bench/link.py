"""App-link benchmark: requests/s and p99 latency through ``/apps/{tenant}/{app}/``, against the app served directly.

Every part runs as its own process, as in production: ``fieldhub up`` (the hub), a tunnel client (the node's
agent side, :class:`edge_agent.apps.tunnel.TunnelClient`) and a small keep-alive HTTP app; the load comes from
this process, ``--clients`` concurrent keep-alive connections (aiohttp) sending ``GET`` for ``--seconds``.

Baseline, in the same run: the same load straight at the app's port. The link's requests carry a tenant
user's bearer token (checked as for every private app).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contracts.apps import MANIFEST, NodeDeployments
from contracts.topics import apps_topic, deployments_topic, heartbeat_topic
from hub.apps.template import write_template, zip_directory
from hub.security.passwords import new_secret

_APPS = {
    # aiohttp: a fast app (C HTTP parser); the link's own cost shows most.
    "aiohttp": """
import sys
from aiohttp import web
async def hello(request):
    return web.Response(body=b'{"hello": "field"}', content_type="application/json")
app = web.Application()
app.router.add_get("/{tail:.*}", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
""",
    # stdlib: what the app template is (http.server, one thread a connection), with keep-alive.
    "stdlib": """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b'{"hello": "field"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Hello).serve_forever()
""",
}
_NODE = """
import asyncio, sys
from edge_agent.apps.tunnel import TunnelClient
url, node, secret, deployment, port = sys.argv[1:6]
client = TunnelClient(url, node, secret, None, lambda d, r, s: int(port) if d == deployment else None)
asyncio.run(client.run())
"""
NODE = "bench-node"
APP = "bench-link"


def _free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _process(args: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _hub_addresses(proc: subprocess.Popen[str]) -> tuple[str, int]:
    assert proc.stdout is not None
    url, seen = "", []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("Fieldhub is up: "):
            url = line.split()[3]
        if line.startswith("MQTT broker: "):
            # Drain the rest so the hub never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in proc.stdout or ()], daemon=True).start()
            return url, int(line.rsplit(":", 1)[1])
    raise RuntimeError("fieldhub up did not start:\n" + "".join(seen))


def _wait(check: Any, what: str, within: float = 30.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)  # polling a condition, bounded by the deadline
    raise RuntimeError(f"timed out waiting for {what}")


def _setup(url: str, mqtt_port: int, admin_password: str, tmp: Path) -> tuple[str, str, str]:
    """A gateway, a tenant user and the app deployed and running on it: (node secret, deployment, token)."""
    http = httpx.Client(base_url=url, timeout=30)
    token = http.post("/api/v1/auth/token", data={"username": "admin", "password": admin_password}).json()
    http.headers["Authorization"] = f"Bearer {token['access_token']}"
    secret = http.post("/api/v1/devices", json={"id": NODE, "name": NODE, "kind": "gateway"}).json()
    secret = secret["credentials"]["password"]
    http.post("/api/v1/users", json={"username": "bench-user", "password": admin_password, "tenant": "default"})
    user = http.post("/api/v1/auth/token", data={"username": "bench-user", "password": admin_password}).json()

    desired: list[NodeDeployments] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=NODE)
    client.username_pw_set(NODE, secret)
    client.on_message = lambda _c, _u, msg: desired.append(NodeDeployments.model_validate_json(msg.payload))
    client.connect("127.0.0.1", mqtt_port)
    client.loop_start()
    try:
        client.subscribe(deployments_topic(NODE), qos=1)
        beat = {
            "ts": int(time.time() * 1000),
            "agent_version": "0.1.0",
            "uptime_s": 1.0,
            "load1": 0.1,
            "mem_used_pct": 10.0,
            "spool": {"depth": 0, "oldest_age_s": 0, "dropped": 0, "bytes_used": 0},
            "sensors": [{"name": "probe", "driver": "sim", "type": "temperature", "location": "bench"}],
        }
        client.publish(heartbeat_topic(NODE), orjson.dumps(beat), qos=1).wait_for_publish(10)
        _wait(lambda: http.get(f"/api/v1/nodes/{NODE}").json().get("heartbeat"), "the heartbeat")
        directory = tmp / APP
        write_template(APP, directory)
        manifest = directory / MANIFEST
        binding = '\n[[sensors]]\nbind = "probe"\ntype = "temperature"\nlocation = "bench"\n'
        manifest.write_text(manifest.read_text(encoding="utf-8") + binding, encoding="utf-8")
        pushed = http.post("/api/v1/apps", files={"package": ("app.zip", zip_directory(directory), "application/zip")})
        pushed.raise_for_status()
        deployment = http.post("/api/v1/deployments", json={"app": APP}).json()["id"]
        found = _wait(lambda: next((d for d in desired if d.instances), None), "the desired set")
        now = int(time.time() * 1000)
        instances = [
            {"deployment": i.deployment, "replica": i.replica, "app": i.app, "version": i.version}
            | {"status": "running", "since": now}
            for i in found.instances
        ]
        report = orjson.dumps({"version": found.version, "ts": now, "instances": instances})
        client.publish(apps_topic(NODE), report, qos=1).wait_for_publish(10)
        _wait(lambda: http.get(f"/api/v1/deployments/{deployment}").json()["status"] == "running", "running")
    finally:
        client.loop_stop()
        client.disconnect()
        http.close()
    return secret, deployment, user["access_token"]


async def _load(url: str, clients: int, seconds: float, headers: dict[str, str]) -> dict[str, Any]:
    """``clients`` keep-alive connections sending GETs for ``seconds`` (after a one-second warm-up)."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker(until: float, record: bool) -> None:
            nonlocal errors
            while (now := time.perf_counter()) < until:
                async with session.get(url) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                if record:
                    latencies.append(time.perf_counter() - now)

        warm = time.perf_counter() + 1.0
        await asyncio.gather(*(worker(warm, False) for _ in range(clients)))
        started = time.perf_counter()
        await asyncio.gather(*(worker(started + seconds, True) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "requests": len(latencies),
        "errors": errors,
    }


def _run(args: argparse.Namespace) -> dict[str, Any]:
    admin_password = new_secret()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDHUB_")}
    env |= {"FIELDHUB_ADMIN_PASSWORD": admin_password, "FIELDHUB_DEMO": "true", "FIELDHUB_SCRYPT_N": "1024"}
    app_port = _free_port()
    with tempfile.TemporaryDirectory(prefix="fieldhub-bench-link-") as raw:
        tmp = Path(raw)
        hub_args = ["up", "--data-dir", str(tmp / "data"), "--mqtt-port", "0", "--http-port", "0"]
        with (
            _process([sys.executable, "-m", "cloud.cli.main", *hub_args], env) as hub,
            _process([sys.executable, "-c", _APPS[args.app], str(app_port)]),
        ):
            url, mqtt_port = _hub_addresses(hub)
            secret, deployment, token = _setup(url, mqtt_port, admin_password, tmp)
            node_args = [url, NODE, secret, deployment, str(app_port)]
            with _process([sys.executable, "-c", _NODE, *node_args]):
                link = f"{url}/apps/default/{APP}/hello"
                auth = {"Authorization": f"Bearer {token}"}
                _wait(lambda: httpx.get(link, headers=auth).status_code == 200, "the link to answer")
                direct = asyncio.run(_load(f"http://127.0.0.1:{app_port}/hello", args.clients, args.seconds, {}))
                through = asyncio.run(_load(link, args.clients, args.seconds, auth))
    return {
        "app": args.app,
        "clients": args.clients,
        "seconds": args.seconds,
        "direct": direct,
        "link": through,
        "ratio": round(through["rps"] / direct["rps"], 3) if direct["rps"] else None,
    }


def main(args: argparse.Namespace) -> int:
    result = _run(args)
    if args.json:
        print(json.dumps(result))
    else:
        d, link = result["direct"], result["link"]
        print(
            f"app link benchmark: {result['clients']} keep-alive clients, {result['seconds']:g} s, {result['app']} app"
        )
        print(f"  direct: {d['rps']} requests/s, p50 {d['p50_ms']} ms, p99 {d['p99_ms']} ms")
        print(f"  link:   {link['rps']} requests/s, p50 {link['p50_ms']} ms, p99 {link['p99_ms']} ms")
        print(f"  ratio (link / direct): {result['ratio']}")
    return 1 if result["direct"]["errors"] or result["link"]["errors"] else 0

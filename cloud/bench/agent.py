"""Agent benchmark: resident memory, CPU per 1,000 readings/s, and spool replay after an outage.

Each figure is measured against a baseline in the same run:
- memory: a bare Python process that imports paho-mqtt and pydantic (the interpreter's floor);
- replay: a plain paho publisher sending the same readings in the same batches to the same hub,
  without a spool (the link's and hub's limit).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import tomli_w
from paho.mqtt.enums import CallbackAPIVersion

from cloud.runtime import HubRuntime
from cloud.settings import load_settings
from contracts.devices import DeviceCreate, DeviceKind
from edge_agent.agent import Agent
from edge_agent.config import parse_config
from edge_agent.spool import Spool
from hub.security.passwords import new_secret

_CLK_TCK = os.sysconf("SC_CLK_TCK")
_BARE = "import paho.mqtt.client, pydantic, time; print('ready', flush=True); time.sleep(60)"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def _config(tmp: Path, port: int, device_id: str, secret: str, *, sensors: int, interval: float) -> dict[str, Any]:
    return {
        "hub": {"url": f"mqtt://127.0.0.1:{port}", "device_id": device_id, "secret": secret},
        "spool": {"path": str(tmp / f"{device_id}.db"), "max_mb": 1024},
        "logs": {"ship": False, "level": "WARNING"},
        "sensors": [
            {"name": f"s{i}", "driver": "simulated", "interval": interval, "options": {"kind": "sine"}}
            for i in range(sensors)
        ],
    }


async def _gateway(hub: HubRuntime, device_id: str) -> str:
    created = await hub.services.registry.create_device(
        DeviceCreate(id=device_id, name=device_id, kind=DeviceKind.GATEWAY), "default"
    )
    return created.credentials.password


def _start_processes(config: Path) -> tuple[subprocess.Popen[str], subprocess.Popen[str]]:
    """The bare-Python baseline (once it has imported) and the agent."""
    bare = subprocess.Popen([sys.executable, "-c", _BARE], stdout=subprocess.PIPE, text=True)
    assert bare.stdout is not None
    bare.stdout.readline()
    agent = subprocess.Popen(
        [sys.executable, "-m", "cloud.cli.main", "agent", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    return bare, agent


async def _process_figures(hub: HubRuntime, tmp: Path, seconds: float) -> dict[str, float]:
    """RSS and CPU of a real ``fieldhub agent`` process with 10 sensors at 1,000 readings/s in all."""
    secret = await _gateway(hub, "bench-proc")
    config = tmp / "agent.toml"
    config.write_text(tomli_w.dumps(_config(tmp, hub.mqtt_port, "bench-proc", secret, sensors=10, interval=0.01)))
    bare, agent = await asyncio.to_thread(_start_processes, config)
    try:
        await asyncio.sleep(3)  # let imports, connection and the first batches settle
        value = hub.services.metrics.registry.get_sample_value
        cpu0, points0, t0 = _cpu_s(agent.pid), value("fieldhub_store_points_written_total") or 0, time.monotonic()
        await asyncio.sleep(seconds)
        cpu1, points1, t1 = _cpu_s(agent.pid), value("fieldhub_store_points_written_total") or 0, time.monotonic()
        rate = (points1 - points0) / (t1 - t0)
        return {
            "agent_rss_mb": round(_rss_mb(agent.pid), 1),
            "baseline_rss_mb": round(_rss_mb(bare.pid), 1),
            "readings_per_s": round(rate, 1),
            "cpu_pct_per_1000_readings_s": round(100 * (cpu1 - cpu0) / (t1 - t0) * 1000 / max(rate, 1), 1),
        }
    finally:
        for proc in (agent, bare):
            proc.terminate()
            proc.wait(30)
        if bare.stdout is not None:
            bare.stdout.close()


async def _replay(hub: HubRuntime, tmp: Path, readings: int) -> float:
    """Readings/s from a spool holding ``readings`` (an outage's backlog) into the hub."""
    secret = await _gateway(hub, "bench-replay")
    raw = _config(tmp, hub.mqtt_port, "bench-replay", secret, sensors=1, interval=1.0)
    raw["sensors"][0]["enabled"] = False
    spool = Spool(Path(raw["spool"]["path"]), 1 << 34)
    now = int(time.time() * 1000)
    for start in range(0, readings, 10_000):
        spool.append_readings([("s0", float(i), now) for i in range(start, min(readings, start + 10_000))], now)
    spool.close()
    agent = Agent(parse_config(raw, "bench"))
    stop = asyncio.Event()
    started = time.monotonic()
    task = asyncio.create_task(agent.run(stop))
    while agent.sender is None or agent.sender.acked_rows < readings:  # noqa: ASYNC110 - polls a counter
        await asyncio.sleep(0.01)
    elapsed = time.monotonic() - started
    stop.set()
    await task
    return readings / elapsed


async def _baseline_replay(hub: HubRuntime, readings: int, batch: int) -> float:
    """The same readings and batches from a plain paho publisher (no spool, no agent)."""
    secret = await _gateway(hub, "bench-raw")
    now = int(time.time() * 1000)
    payloads = [
        b"["
        + b",".join(orjson.dumps({"ts": now, "values": {"s0": float(i)}, "seq": i}) for i in range(s, s + batch))
        + b"]"
        for s in range(0, readings, batch)
    ]

    def publish_all() -> float:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw")
        client.username_pw_set("bench-raw", secret)
        client.max_inflight_messages_set(20)
        client.connect("127.0.0.1", hub.mqtt_port)
        client.loop_start()
        started = time.monotonic()
        infos = [client.publish("devices/bench-raw/telemetry", p, qos=1) for p in payloads]
        for info in infos:
            info.wait_for_publish(120)
        elapsed = time.monotonic() - started
        client.disconnect()
        client.loop_stop()
        return elapsed

    return readings / await asyncio.to_thread(publish_all)


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fieldhub-agent-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        settings = load_settings(
            data_dir=tmp / "hub", mqtt_port=0, http_port=0, demo=True, scrypt_n=1024, admin_password=new_secret()
        )
        async with HubRuntime(settings) as hub:
            figures = await _process_figures(hub, tmp, args.seconds)
            baseline = await _baseline_replay(hub, args.readings, 500)
            replay = await _replay(hub, tmp, args.readings)
    return {
        **figures,
        "replay_readings": args.readings,
        "replay_readings_per_s": round(replay, 1),
        "baseline_publish_readings_per_s": round(baseline, 1),
        "replay_ratio": round(replay / baseline, 3),
    }


def main(args: argparse.Namespace) -> int:
    result = asyncio.run(_run(args))
    if args.json:
        print(json.dumps(result))
        return 0
    print("agent benchmark")
    print(
        f"  resident memory, 10 sensors: {result['agent_rss_mb']} MB "
        f"(bare Python with paho and pydantic: {result['baseline_rss_mb']} MB)"
    )
    print(
        f"  CPU: {result['cpu_pct_per_1000_readings_s']} % of one core per 1,000 readings/s "
        f"(measured at {result['readings_per_s']:.0f} readings/s)"
    )
    print(
        f"  spool replay of {result['replay_readings']} readings: {result['replay_readings_per_s']:.0f} readings/s; "
        f"plain paho publisher, same batches: {result['baseline_publish_readings_per_s']:.0f} readings/s "
        f"(ratio {result['replay_ratio']:.2f})"
    )
    return 0

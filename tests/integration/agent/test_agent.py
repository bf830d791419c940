"""The edge agent against a real hub: outages, kill -9, commands, desired state, heartbeats, enrollment."""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from gpiozero.pins.mock import MockFactory

from cloud.runtime import HubRuntime
from edge_agent.agent import Agent
from edge_agent.spool import Spool
from hub.store import columns as chunks
from tests.helpers.agent import running_agent
from tests.helpers.hub import Api, running_hub
from tests.helpers.ports import free_port
from tests.helpers.process import cli_env, fieldhub
from tests.helpers.tls import self_signed
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(120)


def agent_config(tmp_path: Path, port: int, device_id: str, secret: str, **sensor: Any) -> dict[str, Any]:
    wave = {"name": "wave", "driver": "simulated", "interval": 0.01, "options": {"kind": "sine"}, **sensor}
    return {
        "hub": {"url": f"mqtt://127.0.0.1:{port}", "device_id": device_id, "secret": secret},
        "spool": {"path": str(tmp_path / "spool.db"), "max_mb": 64},
        "uplink": {"batch_delay_s": 0.05, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5},
        "heartbeat": {"interval_s": 0.5},
        "logs": {"ship": False},
        "sensors": [wave],
    }


def stored_seqs(data_dir: Path, device_id: str, key: str) -> list[int]:
    """Sequence numbers the hub stored for one series, read from its SQLite file.

    The API answers values and times only; the seq is what proves "every reading, once".
    """
    with sqlite3.connect(f"file:{data_dir / 'fieldhub.db'}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT c.data FROM chunks c JOIN series s ON s.id = c.series WHERE s.device_id = ? AND s.key = ?",
            (device_id, key),
        ).fetchall()
    points = [pair for (blob,) in rows for pair in zip(*_ts_and_idents(blob), strict=True)]
    return [ident for _, ident in sorted(points, key=lambda pair: pair[0])]


def _ts_and_idents(blob: bytes) -> tuple[list[int], list[int]]:
    columns = chunks.decode(blob)
    return list(columns.ts), list(columns.idents)


async def gateway(hub: HubRuntime, device_id: str) -> str:
    api = await Api.login(hub.url)
    try:
        created = await api.create_device(device_id, kind="gateway")
        return str(created["credentials"]["password"])
    finally:
        await api.close()


async def test_an_outage_of_the_hub_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    data, port = tmp_path / "hub", free_port()
    async with running_hub(data, mqtt_port=port) as hub:
        secret = await gateway(hub, "pi-1")
    raw = agent_config(tmp_path, port, "pi-1", secret)
    async with running_agent(raw) as agent:
        async with running_hub(data, mqtt_port=port) as hub:
            await eventually(lambda: _acked(agent, 20), what="readings flowing")
        # The hub is down: sampling goes on into the spool.
        depth = agent.spool.depth if agent.spool else 0
        await eventually(lambda: _spooled(agent, depth + 200), what="a backlog while the hub is down")
        async with running_hub(data, mqtt_port=port) as hub:
            # Replay while live sampling goes on, then stop sampling to count.
            backlog = agent.spool.depth if agent.spool else 0
            await eventually(lambda: _below(agent, backlog // 4), within=60, what="the backlog shrinking")
            agent.sensors.runners["wave"].configure(enabled=False)
            await eventually(lambda: _drained(agent), within=60, what="the backlog replayed")
            seqs = stored_seqs(data, "pi-1", "wave")
    assert len(seqs) == len(set(seqs)) >= 220
    # Every reading once and in order: consecutive sequence numbers in time order.
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


async def _acked(agent: Agent, rows: int) -> bool:
    return agent.sender is not None and agent.sender.acked_rows >= rows


async def _spooled(agent: Agent, depth: int) -> bool:
    return agent.spool is not None and agent.spool.depth >= depth


async def _below(agent: Agent, depth: int) -> bool:
    return agent.spool is not None and agent.spool.depth <= depth


async def _drained(agent: Agent) -> bool:
    return agent.spool is not None and agent.spool.depth == 0 and agent.sensors.runners["wave"].state == "ok"


async def test_kill_9_mid_flight_then_restart_delivers_every_spooled_reading(tmp_path: Path) -> None:
    data, port = tmp_path / "hub", free_port()
    config = tmp_path / "agent.toml"
    async with running_hub(data, mqtt_port=port) as hub:
        secret = await gateway(hub, "pi-2")
        raw = agent_config(tmp_path, port, "pi-2", secret)
        config.write_text(tomli_w.dumps(raw))
        agent = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cloud.cli.main",
            "agent",
            "--config",
            str(config),
            env=cli_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            await eventually(lambda: _stored_at_least(data, "pi-2", 100), within=30, what="readings from the agent")
        finally:
            agent.send_signal(signal.SIGKILL)
            await asyncio.wait_for(agent.wait(), 30)
        spool = Spool(tmp_path / "spool.db", max_bytes=1 << 30)
        left = spool.depth
        spool.close()
        stored_before = len(stored_seqs(data, "pi-2", "wave"))
        # Restart without sampling: only what the killed agent had spooled is to come.
        raw["sensors"][0]["enabled"] = False
        async with running_agent(raw) as restarted:
            await eventually(lambda: _spool_empty(restarted), within=30, what="the spool replayed after kill -9")
        seqs = stored_seqs(data, "pi-2", "wave")
    # Sequence numbers are given when a reading is committed to the spool: consecutive numbers
    # mean that nothing committed before the kill was lost, and none came twice.
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert len(seqs) >= stored_before and len(seqs) <= stored_before + left


async def _stored_at_least(data: Path, device_id: str, count: int) -> bool:
    return (data / "fieldhub.db").exists() and len(stored_seqs(data, device_id, "wave")) >= count


async def _spool_empty(agent: Agent) -> bool:
    return agent.spool is not None and agent.spool.depth == 0 and agent.sender is not None


async def test_commands_desired_state_and_heartbeats(
    hub: HubRuntime, api: Api, tmp_path: Path, pins: MockFactory
) -> None:
    secret = (await api.create_device("pi-3", kind="gateway"))["credentials"]["password"]
    raw = agent_config(tmp_path, hub.mqtt_port, "pi-3", secret, interval=0.2, location="lab", type="wave")
    raw["sensors"].append({"name": "relay", "driver": "gpio_out", "options": {"pin": 23}})
    async with running_agent(raw) as agent:

        async def node() -> dict[str, Any] | None:
            answer = (await api.http.get("/api/v1/nodes/pi-3")).json()
            return answer if answer["heartbeat"] else None

        beat = (await eventually(node, what="a heartbeat"))["heartbeat"]
        assert [s["name"] for s in beat["sensors"]] == ["wave", "relay"]
        assert beat["sensors"][0]["location"] == "lab"

        switched = await api.http.post(
            "/api/v1/devices/pi-3/commands/write", json={"params": {"sensor": "relay", "value": "on"}}
        )
        assert switched.json()["status"] == "ok", switched.text
        assert switched.json()["result"] == {"sensor": "relay", "written": "on"}
        assert pins.pin(23).state is True
        assert beat["spool"]["depth"] >= 0

        pong = await api.http.post("/api/v1/devices/pi-3/commands/ping", json={"timeout_s": 10})
        assert pong.status_code == 200 and pong.json()["status"] == "ok"
        bad = await api.http.post("/api/v1/devices/pi-3/commands/write", json={"params": {"sensor": "nope"}})
        assert bad.json()["status"] == "error" and "no sensor 'nope'" in bad.json()["error"]
        unknown = await api.http.post("/api/v1/devices/pi-3/commands/explode")
        assert unknown.json()["status"] == "error"

        desired = {"sensors": {"wave": {"interval": 0.1}}}
        assert (await api.http.put("/api/v1/devices/pi-3/state/desired", json=desired)).status_code == 200

        async def applied() -> bool:
            reported = (await api.http.get("/api/v1/devices/pi-3/state")).json()["reported"]
            return bool(reported) and reported["state"]["sensors"]["wave"]["interval"] == 0.1

        await eventually(applied, what="the desired interval reported as applied")
        assert agent.sensors.runners["wave"].interval == 0.1
        off = {"sensors": {"wave": {"enabled": False}}}
        await api.http.put("/api/v1/devices/pi-3/state/desired", json=off)

        async def disabled() -> bool:
            beat = (await api.http.get("/api/v1/nodes/pi-3")).json()["heartbeat"]
            return beat["sensors"][0]["state"] == "disabled"

        await eventually(disabled, what="the sensor disabled without a restart")


async def test_enroll_writes_a_private_config_that_connects(hub: HubRuntime, api: Api, tmp_path: Path) -> None:
    token = (await api.http.post("/api/v1/provisioning-tokens", json={"uses": 1})).json()["token"]
    config = tmp_path / "etc" / "agent.toml"
    config.parent.mkdir()
    config.write_text(tomli_w.dumps({"hub": {"device_id": "old", "secret": "x"}, **_sensors_only(tmp_path)}))
    args = ["agent", "--config", str(config), "enroll", "--hub", hub.url, "--token", token, "--id", "pi-4"]
    done = await asyncio.to_thread(fieldhub, *args)
    assert done.returncode == 0, done.stderr
    assert config.stat().st_mode & 0o777 == 0o600
    check = await asyncio.to_thread(fieldhub, "agent", "--config", str(config), "check")
    assert check.returncode == 0 and "device pi-4 -> mqtt://127.0.0.1:" in check.stdout
    again = await asyncio.to_thread(fieldhub, *args)
    assert again.returncode == 2 and "the hub refused the enrollment" in again.stderr
    assert token.split(".")[1] not in again.stderr


def _sensors_only(tmp_path: Path) -> dict[str, Any]:
    return {
        "spool": {"path": str(tmp_path / "spool.db")},
        "sensors": [{"name": "wave", "driver": "simulated", "options": {"kind": "sine"}}],
    }


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[hub\n", "not valid TOML"),
        ('[hub]\ndevice_id = "a/b"\nsecret = "s"\n', "hub.device_id"),
        ('[hub]\ndevice_id = "a"\n', "hub.secret: Field required"),
        ('[hub]\ndevice_id = "a"\nsecret = "s"\nurl = "http://x"\n', "hub.url"),
        (
            '[hub]\ndevice_id = "a"\nsecret = "s"\n[[sensors]]\nname = "w"\ndriver = "simulated"\ninterval = 0\n',
            "sensors[0] 'w'.interval",
        ),
        ('[hub]\ndevice_id = "a"\nsecret = "s"\n[[sensors]]\nname = "w"\ndriver = "nosuch"\n', "nosuch"),
        (
            '[hub]\ndevice_id = "a"\nsecret = "s"\n[[sensors]]\nname = "w"\ndriver = "serial"\n'
            '[sensors.options]\nbaudrate = "fast"\n',
            "sensors[0] 'w'.options",
        ),
        ('[hub]\ndevice_id = "a"\nsecret = "s"\n[bogus]\n', "bogus"),
    ],
)
def test_bad_agent_configs_are_refused_before_anything_starts(tmp_path: Path, content: str, expected: str) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(content)
    done = fieldhub("agent", "--config", str(config), "check")
    assert done.returncode == 2, done.stdout
    assert str(config) in done.stderr and expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


async def test_reload_config_swaps_sensors_without_a_restart(hub: HubRuntime, api: Api, tmp_path: Path) -> None:
    secret = (await api.create_device("pi-5", kind="gateway"))["credentials"]["password"]
    raw = agent_config(tmp_path, hub.mqtt_port, "pi-5", secret)
    path = tmp_path / "agent.toml"
    path.write_text(tomli_w.dumps(raw))
    async with running_agent(path) as agent:
        await eventually(lambda: _acked(agent, 1), what="the agent connected and sending")
        raw["sensors"].append({"name": "walk", "driver": "simulated", "options": {"kind": "random_walk"}})
        raw["spool"]["max_mb"] = 32
        path.write_text(tomli_w.dumps(raw))
        answer = await api.http.post("/api/v1/devices/pi-5/commands/reload_config", json={"timeout_s": 10})
        assert answer.json()["status"] == "ok", answer.text
        assert answer.json()["result"] == {"sensors": ["wave", "walk"], "restart_needed_for": ["spool"]}

        async def swapped() -> bool:
            return set(agent.sensors.runners) == {"wave", "walk"}

        await eventually(swapped, what="the new sensor set running")
        path.write_text("[hub\n")
        broken = await api.http.post("/api/v1/devices/pi-5/commands/reload_config", json={"timeout_s": 10})
        assert broken.json()["status"] == "error" and "not valid TOML" in broken.json()["error"]
        assert set(agent.sensors.runners) == {"wave", "walk"}


async def test_the_agent_speaks_mqtt_over_tls_with_a_private_ca(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    tls = {"mqtts_port": 0, "tls_cert_file": cert, "tls_key_file": key}
    async with running_hub(tmp_path / "hub", **tls) as hub:
        assert hub.mqtts_port is not None
        secret = await gateway(hub, "pi-tls")
        raw = agent_config(tmp_path, hub.mqtts_port, "pi-tls", secret)
        raw["hub"].update(url=f"mqtts://127.0.0.1:{hub.mqtts_port}", ca_file=str(cert))
        async with running_agent(raw) as agent:
            await eventually(lambda: _acked(agent, 20), what="readings acknowledged over TLS")
        assert len(stored_seqs(tmp_path / "hub", "pi-tls", "wave")) >= 20


async def test_the_agents_own_log_lines_reach_the_hub(
    hub: HubRuntime, api: Api, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    secret = (await api.create_device("pi-6", kind="gateway"))["credentials"]["password"]
    raw = agent_config(tmp_path, hub.mqtt_port, "pi-6", secret)
    raw["logs"] = {"ship": True}
    async with running_agent(raw):

        async def shipped() -> bool:
            lines = (await api.http.get("/api/v1/nodes/pi-6/logs")).json()["lines"]
            return any("connected to" in line["message"] and line["level"] == "INFO" for line in lines)

        await eventually(shipped, what="the agent's 'connected' line in the hub")

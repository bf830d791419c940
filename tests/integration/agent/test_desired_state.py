"""Desired state end to end: the API, the hub, MQTT, a running agent that changes what it does, and its report."""

from __future__ import annotations

import itertools
import logging
import statistics
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from gpiozero.pins.mock import MockFactory

from cloud.runtime import HubRuntime
from edge_agent.agent import Agent
from edge_agent.desired import AGENT_LOGGERS
from edge_agent.sensors import SensorRunner
from tests.helpers.agent import running_agent
from tests.helpers.hub import Api
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(120)
CONFIGURED_S = 5.0
DESIRED_S = 0.1


def _config(tmp_path: Path, port: int, device_id: str, secret: str) -> Path:
    raw = {
        "hub": {"url": f"mqtt://127.0.0.1:{port}", "device_id": device_id, "secret": secret},
        "spool": {"path": str(tmp_path / "spool.db")},
        "uplink": {"batch_delay_s": 0.05, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5},
        "heartbeat": {"interval_s": 0.5},
        "logs": {"ship": False},
        "sensors": [
            {"name": "wave", "driver": "simulated", "interval": CONFIGURED_S, "options": {"kind": "sine"}},
            {"name": "door", "driver": "gpio_in", "options": {"pin": 17, "mode": "edge"}},
        ],
    }
    path = tmp_path / "agent.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


async def _reported(api: Api, device_id: str, version: int) -> dict[str, Any] | None:
    """The agent's report once it answers desired-state ``version``."""
    reported = (await api.http.get(f"/api/v1/devices/{device_id}/state")).json()["reported"]
    if reported and reported["state"].get("version") == version:
        state: dict[str, Any] = reported["state"]
        return state
    return None


async def _readings_since(api: Api, device_id: str, since_ms: int, count: int) -> list[int] | None:
    """Epoch ms of the stored ``wave`` readings taken from ``since_ms`` on, once there are ``count``."""
    params = {"key": "wave", "start": str(since_ms), "limit": "1000"}
    points = (await api.http.get(f"/api/v1/devices/{device_id}/telemetry", params=params)).json()["points"]
    stamps = [int(datetime.fromisoformat(p["ts"]).timestamp() * 1000) for p in points]
    return stamps if len(stamps) >= count else None


async def test_desired_state_reaches_the_agent_changes_its_sampling_and_is_reported(
    hub: HubRuntime, api: Api, tmp_path: Path, pins: MockFactory
) -> None:
    secret = (await api.create_device("pi-desired", kind="gateway"))["credentials"]["password"]
    path = _config(tmp_path, hub.mqtt_port, "pi-desired", secret)
    async with running_agent(path) as agent:
        await eventually(lambda: _connected(agent), what="the agent connected")
        desired = {
            "sensors": {"wave": {"interval": DESIRED_S}, "door": {"interval": 1}, "nope": {"enabled": False}},
            "logs": {"level": "DEBUG"},
            "heartbeat": {"interval_s": 2},
        }
        put = await api.http.put("/api/v1/devices/pi-desired/state/desired", json=desired)
        assert put.status_code == 200, put.text
        report = await eventually(lambda: _reported(api, "pi-desired", 1), what="the report of version 1")
        assert report is not None

        assert report["applied_version"] == 1
        assert report["applied"] == {
            "sensors": {"wave": {"interval": DESIRED_S}},
            "logs": {"level": "DEBUG"},
            "heartbeat": {"interval_s": 2},
        }
        assert report["rejected"] == {
            "sensors.nope": "no such sensor on this agent; it has: door, wave",
            "sensors.door.interval": (
                "the gpio_in driver streams (it reports when the device sends), so door has no interval"
            ),
        }
        assert report["unknown_sensors"] == ["nope"]
        assert report["sensors"] == {
            "wave": {"interval": DESIRED_S, "enabled": True},
            "door": {"interval": None, "enabled": True},
        }
        assert report["logs"] == {"level": "DEBUG"} and report["heartbeat"] == {"interval_s": 2}
        assert report["uplink"] == {"batch_delay_s": 0.05}
        assert agent.heartbeat_interval_s == 2
        assert all(logging.getLogger(name).level == logging.DEBUG for name in AGENT_LOGGERS)

        # The sampling period really changed: configured at 5 s, the readings now come every 0.1 s.
        applied_at = int(report["ts"])
        stamps = await eventually(
            lambda: _readings_since(api, "pi-desired", applied_at, 15), within=30, what="readings every 0.1 s"
        )
        assert stamps is not None
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        assert min(gaps) >= DESIRED_S * 1000 - 5, gaps
        assert statistics.median(gaps) < CONFIGURED_S * 1000 / 10, gaps

        # Desired state outlives reload_config: the rebuilt sensors get it too.
        before = agent.sensors.runners["wave"]
        reload = await api.http.post("/api/v1/devices/pi-desired/commands/reload_config", json={"timeout_s": 10})
        assert reload.json()["status"] == "ok", reload.text
        await eventually(lambda: _rebuilt(agent, before), what="the reloaded wave sensor at the desired interval")

        # A new desired state replaces the last as a whole: what it leaves out runs as configured.
        put = await api.http.put("/api/v1/devices/pi-desired/state/desired", json={})
        assert put.json()["version"] == 2
        report = await eventually(lambda: _reported(api, "pi-desired", 2), what="the report of version 2")
        assert report is not None
        assert (report["applied"], report["rejected"]) == ({}, {})
        assert report["sensors"]["wave"] == {"interval": CONFIGURED_S, "enabled": True}
        assert report["logs"] == {"level": "INFO"} and report["heartbeat"] == {"interval_s": 0.5}
        assert agent.sensors.runners["wave"].interval == CONFIGURED_S
        assert all(logging.getLogger(name).level == logging.NOTSET for name in AGENT_LOGGERS)


async def _connected(agent: Agent) -> bool:
    return agent.sender is not None and agent.desired is not None and agent.sensors.runners["wave"].state == "ok"


async def _rebuilt(agent: Agent, before: SensorRunner) -> bool:
    wave = agent.sensors.runners["wave"]
    return wave is not before and wave.interval == DESIRED_S and wave.state == "ok"

"""The agent's desired-state contract, and how the agent splits a desired state into applied and rejected."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.agent_state import AgentDesiredState, AgentReportedState, problems
from contracts.messages import DesiredState
from contracts.schemas import SCHEMAS, json_schema
from edge_agent.config import AgentConfig, parse_config
from edge_agent.desired import AGENT_LOGGERS, DesiredStateApplier, check_sensors, split_valid
from edge_agent.sensors import SensorSet

pytestmark = pytest.mark.timeout(60)

FULL = {
    "sensors": {"wave": {"interval": 0.5, "enabled": True}, "door": {"enabled": False}},
    "logs": {"level": "DEBUG"},
    "heartbeat": {"interval_s": 10},
    "uplink": {"batch_delay_s": 0},
}


def test_the_contracts_are_exported_and_refuse_unknown_keys() -> None:
    assert {"agent-desired-state", "agent-reported-state"} <= set(SCHEMAS)
    schema = json_schema("agent-desired-state")
    assert schema["$id"] == "https://fieldhub.dev/schemas/agent-desired-state.json"
    assert schema["additionalProperties"] is False
    interval = schema["$defs"]["SensorSettings"]["properties"]["interval"]["anyOf"][0]
    assert (interval["minimum"], interval["maximum"]) == (0.1, 86_400)
    assert AgentDesiredState.model_validate(FULL).model_dump(exclude_none=True) == FULL
    assert AgentDesiredState.model_validate({}) == AgentDesiredState()


@pytest.mark.parametrize(
    ("doc", "path", "reason"),
    [
        ({"sensors": {"wave": {"interval": 0}}}, "sensors.wave.interval", "greater than or equal to 0.1"),
        ({"sensors": {"wave": {"interval": 86_401}}}, "sensors.wave.interval", "less than or equal to 86400"),
        ({"sensors": {"wave": {"interval": "5"}}}, "sensors.wave.interval", "valid number"),
        ({"sensors": {"wave": {"enabled": "yes"}}}, "sensors.wave.enabled", "valid boolean"),
        ({"sensors": {"wave": {"rate": 1}}}, "sensors.wave.rate", "unknown key; known: interval, enabled"),
        ({"sensors": {"bad/name": {}}}, "sensors.bad/name", "not a sensor name"),
        ({"interval": 5}, "interval", "unknown key; known: sensors, logs, heartbeat, uplink"),
        ({"logs": {"level": "LOUD"}}, "logs.level", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
        ({"heartbeat": {"interval_s": 0.2}}, "heartbeat.interval_s", "greater than or equal to 1"),
        ({"uplink": {"batch_delay_s": 61}}, "uplink.batch_delay_s", "less than or equal to 60"),
        ({"uplink": {"batch_max": 5}}, "uplink.batch_max", "unknown key; known: batch_delay_s"),
    ],
)
def test_problems_name_the_path_and_the_reason(doc: dict[str, Any], path: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AgentDesiredState.model_validate(doc)
    [problem] = problems(caught.value)
    assert problem.path == path and reason in problem.reason


def test_split_valid_keeps_the_valid_parts_and_names_the_rest() -> None:
    doc: dict[str, Any] = {
        "sensors": {"wave": {"interval": 0.01, "enabled": False}, "walk": {"interval": 2}, "x.y": {}},
        "logs": {"level": "DEBUG"},
        "reboot": True,
    }
    applied, rejected = split_valid(doc)
    assert applied.model_dump(exclude_none=True) == {
        "sensors": {"wave": {"enabled": False}, "walk": {"interval": 2}},
        "logs": {"level": "DEBUG"},
    }
    assert set(rejected) == {"sensors.wave.interval", "sensors.x.y", "reboot"}
    assert doc["sensors"]["wave"] == {"interval": 0.01, "enabled": False}, "the input is left alone"


json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_docs = st.recursive(
    json_leaf, lambda inner: st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12
)
near_miss = st.fixed_dictionaries(
    {},
    optional={
        "sensors": st.dictionaries(
            st.sampled_from(["wave", "door", "x/y", ""]),
            st.fixed_dictionaries({}, optional={"interval": json_leaf, "enabled": json_leaf, "rate": json_leaf})
            | json_leaf,
            max_size=3,
        )
        | json_leaf,
        "logs": st.fixed_dictionaries({}, optional={"level": st.sampled_from(["DEBUG", "LOUD", 3])}) | json_leaf,
        "heartbeat": st.fixed_dictionaries({}, optional={"interval_s": json_leaf}),
        "bogus": json_leaf,
    },
)


@given(st.dictionaries(st.text(max_size=8), json_docs, max_size=4) | near_miss)
def test_split_valid_never_fails_and_applies_only_what_was_given(doc: dict[str, Any]) -> None:
    applied, rejected = split_valid(doc)
    assert AgentDesiredState.model_validate(applied.model_dump()) == applied
    kept = applied.model_dump(exclude_none=True, exclude_defaults=True)
    assert _subset(kept, doc)
    try:
        AgentDesiredState.model_validate(doc)
    except ValidationError:
        assert rejected
    else:
        assert not rejected


def _subset(part: Any, whole: Any) -> bool:
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(k in whole and _subset(v, whole[k]) for k, v in part.items())
    return bool(part == whole)


def _config(**logs: Any) -> AgentConfig:
    return parse_config(
        {
            "hub": {"device_id": "pi", "secret": "s"},
            "logs": {"ship": False, **logs},
            "heartbeat": {"interval_s": 5},
            "sensors": [
                {"name": "wave", "driver": "simulated", "interval": 2},
                {"name": "line", "driver": "serial", "options": {"port": "/dev/null"}},
            ],
        },
        "test",
    )


async def _never(_: Any) -> None:
    raise AssertionError("no sensor runs in this test")


def test_check_sensors_rejects_unknown_names_and_intervals_of_streaming_sensors() -> None:
    sensors = SensorSet(_config().sensors, _never)
    desired = AgentDesiredState.model_validate(
        {"sensors": {"wave": {"interval": 1}, "line": {"interval": 1, "enabled": False}, "nope": {"enabled": False}}}
    )
    checked = check_sensors(desired, sensors)
    assert checked.applied.model_dump(exclude_none=True) == {
        "sensors": {"wave": {"interval": 1}, "line": {"enabled": False}}
    }
    assert checked.rejected["sensors.nope"] == "no such sensor on this agent; it has: line, wave"
    assert "streams" in checked.rejected["sensors.line.interval"]
    assert checked.unknown == ["nope"]


class FakeAgent:
    """The parts of the agent that desired state changes."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.sensors = SensorSet(config.sensors, _never)
        self.heartbeat_s = config.heartbeat.interval_s
        self.batch_delay_s = config.uplink.batch_delay_s

    def set_heartbeat_interval(self, seconds: float) -> None:
        self.heartbeat_s = seconds

    def set_batch_delay(self, seconds: float) -> None:
        self.batch_delay_s = seconds


def _message(version: int, state: dict[str, Any]) -> bytes:
    return DesiredState(version=version, state=state, ts=1).model_dump_json().encode()


def test_a_desired_state_replaces_the_last_one_and_what_it_leaves_out_runs_as_configured() -> None:
    agent = FakeAgent(_config())
    posted: list[tuple[str, bytes]] = []
    applier = DesiredStateApplier("pi", agent, lambda topic, payload, qos=1: posted.append((topic, payload)))
    try:
        applier.receive(_message(1, {**FULL, "sensors": {"wave": {"interval": 0.5, "enabled": False}}}))
        wave = agent.sensors.runners["wave"]
        assert (wave.interval, wave.enabled, agent.heartbeat_s, agent.batch_delay_s) == (0.5, False, 10, 0)
        assert all(logging.getLogger(name).level == logging.DEBUG for name in AGENT_LOGGERS)
        topic, payload = posted[-1]
        report = AgentReportedState.model_validate_json(payload)
        assert topic == "devices/pi/state/reported" and report.version == report.applied_version == 1
        assert orjson.loads(payload)["applied"]["sensors"] == {"wave": {"interval": 0.5, "enabled": False}}
        assert report.sensors["line"].interval is None and report.logs.level == "DEBUG"

        applier.receive(_message(2, {"sensors": {"wave": {"interval": 1}}}))
        assert (wave.interval, wave.enabled, agent.heartbeat_s, agent.batch_delay_s) == (1, True, 5, 0.2)
        assert all(logging.getLogger(name).level == logging.NOTSET for name in AGENT_LOGGERS)
        report = AgentReportedState.model_validate_json(posted[-1][1])
        assert (report.version, report.logs.level, report.heartbeat.interval_s, report.rejected) == (2, "INFO", 5, {})

        applier.receive(b'{"version": "x"}')
        assert len(posted) == 2, "a malformed message is ignored"
    finally:
        applier.restore()

"""Desired state applied to the running agent: what it takes, what it rejects and why, and the report.

A desired state replaces the previous one as a whole: every setting it leaves out goes back to what
``agent.toml`` says, so the agent runs the same whatever order states came in, and after a restart.
The hub holds a gateway's desired state to the contract already; the agent checks it again (an older
hub, a state stored before the check) and applies the valid parts. Only the agent knows its sensors,
so it alone rejects an unknown sensor name, or an interval for a sensor that streams.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, NamedTuple, Protocol

import orjson
from pydantic import ValidationError

from contracts.agent_state import (
    MAX_REASON,
    AgentDesiredState,
    AgentReportedState,
    HeartbeatState,
    LogsState,
    SensorSettings,
    SensorState,
    UplinkState,
    problems,
)
from contracts.messages import DesiredState
from contracts.topics import state_reported_topic
from edge_agent.config import AgentConfig
from edge_agent.sensors import SensorSet, now_ms

log = logging.getLogger(__name__)
#: The agent's own loggers: the desired log level is theirs, the root logger stays as configured.
AGENT_LOGGERS = ("edge_agent", "device_drivers")
#: Each round drops the parts pydantic refused; one round nearly always does, the bound stops a pathological document.
_MAX_ROUNDS = 8
_MAX_LOGGED = 1000


class Tunable(Protocol):
    """The running agent, as desired state changes it."""

    config: AgentConfig
    sensors: SensorSet

    def set_heartbeat_interval(self, seconds: float) -> None:
        """Beat every ``seconds`` from now on."""

    def set_batch_delay(self, seconds: float) -> None:
        """Let a partial batch wait ``seconds`` to fill from now on."""


class Post(Protocol):
    def __call__(self, topic: str, payload: bytes, qos: int = 1) -> None: ...


def split_valid(state: dict[str, Any]) -> tuple[AgentDesiredState, dict[str, str]]:
    """The part of ``state`` that follows the contract, and each other part's dotted path with the reason."""
    doc = copy.deepcopy(state)
    rejected: dict[str, str] = {}
    for _ in range(_MAX_ROUNDS):
        try:
            return AgentDesiredState.model_validate(doc), rejected
        except ValidationError as exc:
            found = problems(exc)
        dropped = False
        for problem in found:
            rejected.setdefault(problem.path, problem.reason)
            dropped = _drop(doc, problem.loc) or dropped
        if not dropped:
            break
    rejected.setdefault("state", "not applied: no valid part could be told apart")
    return AgentDesiredState(), rejected


def _drop(doc: dict[str, Any], loc: tuple[str | int, ...]) -> bool:
    """Remove the deepest key of ``doc`` on the path ``loc``; whether there was one."""
    node: Any = doc
    parent: dict[str, Any] | None = None
    key: str | None = None
    for part in loc:
        if not isinstance(node, dict) or not isinstance(part, str) or part not in node:
            break
        parent, key, node = node, part, node[part]
    if parent is None or key is None:
        return False
    del parent[key]
    return True


class _Checked(NamedTuple):
    applied: AgentDesiredState
    rejected: dict[str, str]
    unknown: list[str]


class _Effective(NamedTuple):
    log_level: str
    heartbeat_s: float
    batch_delay_s: float


def check_sensors(desired: AgentDesiredState, sensors: SensorSet) -> _Checked:
    """Keep the sensor settings this agent can apply; reject unknown names and intervals of streaming sensors."""
    kept: dict[str, SensorSettings] = {}
    rejected: dict[str, str] = {}
    unknown: list[str] = []
    for name, wanted in desired.sensors.items():
        settings = wanted
        runner = sensors.runners.get(name)
        if runner is None:
            have = ", ".join(sorted(sensors.runners)) or "none"
            rejected[f"sensors.{name}"] = f"no such sensor on this agent; it has: {have}"[:MAX_REASON]
            unknown.append(name)
            continue
        if settings.interval is not None and runner.driver.streaming:
            rejected[f"sensors.{name}.interval"] = (
                f"the {runner.spec.driver} driver streams (it reports when the device sends), so {name} has no interval"
            )[:MAX_REASON]
            settings = settings.model_copy(update={"interval": None})
        if settings != SensorSettings():
            kept[name] = settings
    return _Checked(desired.model_copy(update={"sensors": kept}), rejected, sorted(unknown))


class DesiredStateApplier:
    """Keeps the latest desired state, applies it to the agent and reports the outcome on ``state/reported``."""

    def __init__(self, device_id: str, agent: Tunable, post: Post) -> None:
        self._topic = state_reported_topic(device_id)
        self._agent = agent
        self._post = post
        self._message: DesiredState | None = None
        self._log_level_set = False
        self.last_report: AgentReportedState | None = None

    def receive(self, payload: bytes) -> None:
        """Apply a message of ``devices/{id}/state/desired`` and report; a malformed one is logged and ignored."""
        try:
            message = DesiredState.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("ignored a malformed desired state message: %s", str(exc)[:300])
            return
        self._message = message
        self.apply()

    def apply(self) -> None:
        """Apply the latest desired state (none yet: the config as it is) to the agent as it is now.

        Called on every message and again whenever the agent rebuilt its sensors (``reload_config``).
        """
        state = self._message.state if self._message is not None else {}
        desired, rejected = split_valid(state)
        checked = check_sensors(desired, self._agent.sensors)
        rejected.update(checked.rejected)
        effective = self._configure(checked.applied)
        if self._message is None:
            return
        version = self._message.version
        if rejected:
            listed = "; ".join(f"{path}: {reason}" for path, reason in rejected.items())
            log.warning("desired state %d: rejected %s", version, listed[:_MAX_LOGGED])
        else:
            log.info("desired state %d applied", version)
        report = self._report(version, checked, rejected, effective)
        self.last_report = report
        body = report.model_dump(mode="json")
        # The part of the desired state that took effect, in its own shape: the settings it named only.
        body["applied"] = checked.applied.model_dump(mode="json", exclude_defaults=True)
        self._post(self._topic, orjson.dumps(body))

    def restore(self) -> None:
        """Hand the agent's log level back to the configured one (the agent is stopping)."""
        if self._log_level_set:
            _set_agent_log_level(logging.NOTSET)
            self._log_level_set = False

    def _configure(self, applied: AgentDesiredState) -> _Effective:
        """Make the agent run with ``applied`` over its config; what it runs with now."""
        config = self._agent.config
        for name, runner in self._agent.sensors.runners.items():
            settings = applied.sensors.get(name, SensorSettings())
            interval = settings.interval if settings.interval is not None else runner.spec.interval
            enabled = settings.enabled if settings.enabled is not None else runner.spec.enabled
            if (interval, enabled) != (runner.interval, runner.enabled):
                runner.configure(interval=interval, enabled=enabled)
        heartbeat = applied.heartbeat.interval_s if applied.heartbeat else None
        heartbeat_s = heartbeat if heartbeat is not None else config.heartbeat.interval_s
        self._agent.set_heartbeat_interval(heartbeat_s)
        delay = applied.uplink.batch_delay_s if applied.uplink else None
        batch_delay_s = delay if delay is not None else config.uplink.batch_delay_s
        self._agent.set_batch_delay(batch_delay_s)
        level = applied.logs.level if applied.logs else None
        if level is None:
            self.restore()
            return _Effective(config.logs.level, heartbeat_s, batch_delay_s)
        _set_agent_log_level(logging.getLevelNamesMapping()[level])
        self._log_level_set = True
        return _Effective(level, heartbeat_s, batch_delay_s)

    def _report(
        self, version: int, checked: _Checked, rejected: dict[str, str], effective: _Effective
    ) -> AgentReportedState:
        runners = self._agent.sensors.runners
        return AgentReportedState(
            version=version,
            applied_version=version,
            ts=now_ms(),
            applied=checked.applied,
            rejected=rejected,
            sensors={
                name: SensorState(interval=None if r.driver.streaming else r.interval, enabled=r.enabled)
                for name, r in runners.items()
            },
            logs=LogsState(level=effective.log_level),
            heartbeat=HeartbeatState(interval_s=effective.heartbeat_s),
            uplink=UplinkState(batch_delay_s=effective.batch_delay_s),
            unknown_sensors=checked.unknown,
        )


def _set_agent_log_level(level: int) -> None:
    for name in AGENT_LOGGERS:
        logging.getLogger(name).setLevel(level)

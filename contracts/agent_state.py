"""The Fieldhub edge agent's twin: the desired state it takes and the state it reports back.

A gateway (a device of kind ``gateway``: what ``fieldhub agent enroll`` registers) runs the agent,
so the hub holds its desired state to :class:`AgentDesiredState` and refuses anything else; a plain
device's desired state stays a free-form JSON object. The agent knows its sensors, the hub does
not: sensor names and whether a sensor has an interval at all are checked by the agent, which
reports what it applied and what it rejected, and why, in :class:`AgentReportedState`.

Every key is optional and a desired state replaces the previous one as a whole: what it leaves out
runs as ``agent.toml`` says.
"""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

#: Sensor names become reading keys (``name`` or ``name.field``), so they follow the key rules,
#: without the dot that separates the field (it also separates the parts of a rejected path).
SENSOR_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_:-]{0,47}$"
_NAME_RULE = "not a sensor name: 1-48 letters, digits, '_', ':' or '-', not starting with ':' or '-'"
SensorName = Annotated[str, StringConstraints(pattern=SENSOR_NAME_PATTERN)]
MAX_SENSORS = 256
#: Bounds of a sampling interval set from afar: faster fills the spool and the link, slower is
#: better served by switching the sensor off.
MIN_SENSOR_INTERVAL_S = 0.1
MAX_SENSOR_INTERVAL_S = 86_400.0
MIN_HEARTBEAT_S = 1.0
MAX_HEARTBEAT_S = 3_600.0
MAX_BATCH_DELAY_S = 60.0
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
#: What the reasons of a report and of a refusal may hold at most.
MAX_REASON = 300


class _Settings(BaseModel):
    # Strict: "true" is not a boolean and "5" is not a number in a document that drives hardware.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class SensorSettings(_Settings):
    """What may change on one sensor while the agent runs."""

    interval: float | None = Field(
        default=None,
        ge=MIN_SENSOR_INTERVAL_S,
        le=MAX_SENSOR_INTERVAL_S,
        description="Seconds between reads of a polled sensor (a streaming one, such as a serial line, has none)",
    )
    enabled: bool | None = Field(default=None, description="false stops sampling the sensor")


class LogsSettings(_Settings):
    """The agent's own logging."""

    level: LogLevel | None = Field(
        default=None, description="Level of the agent's log lines; lines shipped to the hub stay INFO and up"
    )


class HeartbeatSettings(_Settings):
    """The heartbeat on ``devices/{id}/heartbeat``."""

    interval_s: float | None = Field(default=None, ge=MIN_HEARTBEAT_S, le=MAX_HEARTBEAT_S)


class UplinkSettings(_Settings):
    """Batching of spooled readings into MQTT messages."""

    batch_delay_s: float | None = Field(
        default=None, ge=0, le=MAX_BATCH_DELAY_S, description="How long a partial batch waits to fill"
    )


class AgentDesiredState(_Settings):
    """The ``state`` of ``devices/{id}/state/desired`` for a gateway running the Fieldhub agent.

    Example: ``{"sensors": {"wave": {"interval": 0.5}, "door": {"enabled": false}}, "logs": {"level": "DEBUG"}}``.
    """

    sensors: dict[SensorName, SensorSettings] = Field(default_factory=dict, max_length=MAX_SENSORS)
    logs: LogsSettings | None = None
    heartbeat: HeartbeatSettings | None = None
    uplink: UplinkSettings | None = None


class SensorState(BaseModel):
    """How one sensor runs now."""

    interval: float | None = Field(description="Seconds between reads; null for a streaming sensor")
    enabled: bool


class LogsState(BaseModel):
    """The agent's log level now."""

    level: str


class HeartbeatState(BaseModel):
    """The heartbeat interval now."""

    interval_s: float


class UplinkState(BaseModel):
    """The batching of readings now."""

    batch_delay_s: float


class AgentReportedState(BaseModel):
    """Payload of ``devices/{id}/state/reported`` from the agent, sent after every desired state it received.

    ``sensors``, ``logs``, ``heartbeat`` and ``uplink`` are what the agent runs with now, in the shape of
    the desired state; ``applied`` is the part of the desired state that took effect and ``rejected``
    names each part that did not (a dotted path such as ``sensors.nope`` or ``sensors.door.interval``)
    with the reason.
    """

    model_config = ConfigDict(extra="ignore")

    version: int = Field(ge=0, description="The desired-state version this report answers")
    applied_version: int = Field(ge=0, description="The same as version (the field of the first agents)")
    ts: int = Field(description="Epoch milliseconds, agent clock, when the state was applied")
    applied: AgentDesiredState
    rejected: dict[str, str] = Field(default_factory=dict, description="Dotted path -> why it was not applied")
    sensors: dict[str, SensorState]
    logs: LogsState
    heartbeat: HeartbeatState
    uplink: UplinkState
    unknown_sensors: list[str] = Field(
        default_factory=list, description="Sensor names the agent does not have (also in rejected)"
    )


_SECTIONS: dict[str, type[BaseModel]] = {
    "logs": LogsSettings,
    "heartbeat": HeartbeatSettings,
    "uplink": UplinkSettings,
}


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The settings model holding the keys at ``loc`` (for naming the keys an unknown one could be)."""
    if not loc:
        return AgentDesiredState
    if loc[0] == "sensors" and len(loc) == 2:  # sensors.{name}
        return SensorSettings
    return _SECTIONS.get(str(loc[0])) if len(loc) == 1 else None


class Problem(NamedTuple):
    """One problem of a desired state: where (``loc``, its keys) and why."""

    loc: tuple[str | int, ...]
    reason: str

    @property
    def path(self) -> str:
        """``loc`` as a dotted path (``sensors.door.interval``), as reports and messages name it."""
        return ".".join(str(part) for part in self.loc) or "state"


def problems(exc: ValidationError) -> list[Problem]:
    """Each problem of a desired state; the submitted values are never echoed."""
    found: list[Problem] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        reason = str(error["msg"])
        if loc and loc[-1] == "[key]":
            loc, reason = loc[:-1], _NAME_RULE
        elif error["type"] == "extra_forbidden":
            model = _model_at(loc[:-1])
            known = ", ".join(model.model_fields) if model is not None else ""
            reason = f"unknown key; known: {known}" if known else "unknown key"
        found.append(Problem(loc, reason[:MAX_REASON]))
    return found

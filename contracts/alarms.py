"""Alarm rules and alarms: what raises an alarm, its lifecycle and the notification that tells of it.

A rule applies to the devices of one profile, or to the devices whose labels match a selector, in its tenant.
It watches one telemetry key, or one figure of a gateway's heartbeat (:data:`HEARTBEAT_FIGURES`), or the
silence of a device. Its condition must hold ``for_s`` seconds before an alarm is raised; one alarm per rule and
device is open at a time (``active``, then ``acknowledged``) until it is ``cleared``. docs/alarms.md tells it whole.
"""

from __future__ import annotations

import enum
import string
from collections.abc import Callable
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from contracts.devices import LabelKey, LabelValue, Name
from contracts.ids import Identifier
from contracts.telemetry import SENSOR_KEY_PATTERN

MAX_MESSAGE_TEMPLATE = 500
#: Most channels one rule notifies.
MAX_RULE_CHANNELS = 10
#: The history entries an alarm keeps (its first and newest ones).
MAX_ALARM_HISTORY = 50
#: Fields a message template may name, as ``{value}``.
TEMPLATE_FIELDS = frozenset(
    {"device", "device_name", "key", "value", "unit", "threshold", "rule", "severity", "silent_s", "tenant"}
)
#: The figures of a gateway's heartbeat a rule can watch (``source: heartbeat``).
HEARTBEAT_FIGURES = (
    "cpu_temp",
    "load1",
    "mem_used_pct",
    "disk_used_pct",
    "spool.depth",
    "spool.oldest_age_s",
    "spool.dropped",
    "spool.bytes_used",
)


class RuleKind(enum.StrEnum):
    """What a rule checks."""

    #: The value compared with ``value`` by ``op``.
    THRESHOLD = "threshold"
    #: The value outside ``[low, high]`` (or inside it, with ``inside``).
    RANGE = "range"
    #: The change per second between two readings compared with ``value`` by ``op``.
    RATE = "rate"
    #: No reading of ``key`` (no message at all, without a key) for ``silence_s`` seconds.
    NO_DATA = "no_data"


class Operator(enum.StrEnum):
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    EQ = "=="
    NE = "!="


class Severity(enum.StrEnum):
    """From the most to the least urgent."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"
    INFO = "info"


class Source(enum.StrEnum):
    """Where the watched value comes from."""

    TELEMETRY = "telemetry"
    #: A gateway's heartbeat (its agent's figures: :data:`HEARTBEAT_FIGURES`).
    HEARTBEAT = "heartbeat"


class AlarmState(enum.StrEnum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


#: States of an alarm that is still open (at most one per rule and device).
OPEN_STATES = (AlarmState.ACTIVE, AlarmState.ACKNOWLEDGED)
Threshold = float | bool | Annotated[str, StringConstraints(max_length=256)]
Selector = Annotated[dict[LabelKey, LabelValue], Field(max_length=16)]
RuleKey = Annotated[str, StringConstraints(pattern=SENSOR_KEY_PATTERN)]
ChannelId = Annotated[str, StringConstraints(pattern=r"^ch-[0-9a-f]{12}$")]


class ClearCondition(BaseModel):
    """An explicit condition that clears the alarm (instead of the raise condition no longer holding)."""

    model_config = ConfigDict(extra="forbid")

    op: Operator
    value: Threshold


def template_problem(template: str) -> str | None:
    """Why ``template`` is not a usable message template (``None`` when it is)."""
    try:
        fields = [name for _, name, spec, conv in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        return f"not a template: {exc}"
    for name in fields:
        if name not in TEMPLATE_FIELDS:
            return f"unknown field {{{name[:40]}}}; fields: {', '.join(sorted(TEMPLATE_FIELDS))}"
    return None


class RuleSpec(BaseModel):
    """What a rule watches and when it raises and clears; shared by create and the stored rule."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    enabled: bool = True
    profile: Identifier | None = Field(default=None, description="Devices of this profile")
    selector: Selector | None = Field(default=None, description="Devices with all these labels ({}: every device)")
    source: Source = Source.TELEMETRY
    key: RuleKey | None = Field(default=None, description="Telemetry key or heartbeat figure; no_data: optional")
    kind: RuleKind
    op: Operator | None = Field(default=None, description="threshold and rate")
    value: Threshold | None = Field(default=None, description="threshold: the value; rate: change per second")
    low: float | None = Field(default=None, description="range")
    high: float | None = Field(default=None, description="range")
    inside: bool = Field(default=False, description="range: raise inside [low, high] rather than outside")
    silence_s: float | None = Field(default=None, gt=0, le=30 * 86400, description="no_data: seconds without data")
    for_s: float = Field(default=0, ge=0, le=86400, description="How long the condition must hold before raising")
    hysteresis: float = Field(default=0, ge=0, description="Numbers: how far back past the threshold clears")
    clear: ClearCondition | None = Field(default=None, description="Clears when this holds (instead of hysteresis)")
    severity: Severity = Severity.MAJOR
    message: Annotated[str, StringConstraints(max_length=MAX_MESSAGE_TEMPLATE)] = Field(
        default="{rule}: {key} of {device} is {value}", description="Template; fields in docs/alarms.md"
    )
    channels: list[ChannelId] = Field(default_factory=list, max_length=MAX_RULE_CHANNELS)
    notify_on: list[AlarmState] = Field(
        default_factory=lambda: [AlarmState.ACTIVE], description="Transitions that notify: active (raised), ..."
    )

    @field_validator("message")
    @classmethod
    def _template(cls, message: str) -> str:
        problem = template_problem(message)
        if problem:
            raise ValueError(problem)
        return message

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        problem = rule_problem(self)
        if problem:
            raise ValueError(problem)
        return self


def rule_problem(rule: RuleSpec) -> str | None:
    """What does not fit together in ``rule`` (``None`` when it does)."""
    kind = rule.kind
    compared = kind in (RuleKind.THRESHOLD, RuleKind.RATE)
    numeric = kind is RuleKind.RATE or rule.op not in (Operator.EQ, Operator.NE, None)
    checks: list[tuple[Callable[[], bool], str]] = [
        (lambda: (rule.profile is None) == (rule.selector is None), "name either a profile or a selector"),
        (
            lambda: rule.source is Source.HEARTBEAT and rule.key is not None and rule.key not in HEARTBEAT_FIGURES,
            f"a heartbeat rule watches one of {', '.join(HEARTBEAT_FIGURES)}",
        ),
        (lambda: kind is not RuleKind.NO_DATA and rule.key is None, f"a {kind.value} rule needs a key"),
        (lambda: compared and (rule.op is None or rule.value is None), f"a {kind.value} rule needs op and value"),
        (
            lambda: compared and numeric and not _is_number(rule.value),
            f"{rule.op.value if rule.op else 'op'} compares numbers: value must be a number",
        ),
        (
            lambda: kind is RuleKind.RANGE and (rule.low is None or rule.high is None or rule.low > rule.high),
            "a range rule needs low <= high",
        ),
        (lambda: kind is RuleKind.NO_DATA and rule.silence_s is None, "a no_data rule needs silence_s"),
        (lambda: kind is not RuleKind.NO_DATA and rule.silence_s is not None, "silence_s belongs to no_data rules"),
        (lambda: rule.clear is not None and bool(rule.hysteresis), "give a hysteresis or a clear condition, not both"),
    ]
    return next((problem for broken, problem in checks if broken()), None)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class RuleCreate(RuleSpec):
    """Body of ``POST /api/v1/rules``."""

    id: Identifier | None = Field(default=None, description="Unique in the tenant; r-<hex> when absent")


class RulePatch(BaseModel):
    """Body of ``PATCH /api/v1/rules/{id}``: the fields given replace the rule's (checked together again)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    enabled: bool | None = None
    profile: Identifier | None = None
    selector: Selector | None = None
    source: Source | None = None
    key: RuleKey | None = None
    kind: RuleKind | None = None
    op: Operator | None = None
    value: Threshold | None = None
    low: float | None = None
    high: float | None = None
    inside: bool | None = None
    silence_s: float | None = Field(default=None, gt=0, le=30 * 86400)
    for_s: float | None = Field(default=None, ge=0, le=86400)
    hysteresis: float | None = Field(default=None, ge=0)
    clear: ClearCondition | None = None
    severity: Severity | None = None
    message: Annotated[str, StringConstraints(max_length=MAX_MESSAGE_TEMPLATE)] | None = None
    channels: list[ChannelId] | None = Field(default=None, max_length=MAX_RULE_CHANNELS)
    notify_on: list[AlarmState] | None = None


class Rule(RuleSpec):
    """A stored rule."""

    id: Identifier
    tenant: Identifier
    created: int = Field(description="Epoch ms")
    updated: int = Field(description="Epoch ms")


AlarmValue = float | bool | str | None


class AlarmChange(BaseModel):
    """One step of an alarm's history."""

    state: AlarmState
    ts: int = Field(description="Epoch ms")
    by: str | None = Field(default=None, description="Who acknowledged or cleared it (null: the hub)")
    value: AlarmValue = Field(default=None, description="The value at that moment")
    note: str | None = Field(default=None, max_length=500)


class Alarm(BaseModel):
    """An alarm of one rule on one device."""

    id: str = Field(description="al-<hex>")
    tenant: Identifier
    rule: Identifier
    rule_name: str
    device: Identifier
    key: str | None
    severity: Severity
    state: AlarmState
    message: str = Field(description="The rule's template filled in when raised")
    value: AlarmValue = Field(description="The value that raised it")
    raised: int = Field(description="Epoch ms")
    acknowledged: int | None = None
    acknowledged_by: str | None = None
    cleared: int | None = None
    cleared_by: str | None = Field(default=None, description="Who cleared it by hand (null: its clear condition)")
    updated: int
    history: list[AlarmChange] = Field(default_factory=list)


class AlarmAck(BaseModel):
    """Body of ``POST /api/v1/alarms/{id}/ack`` and ``/clear`` (optional)."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=500)


class Notification(BaseModel):
    """What a channel is sent when an alarm changes: the webhook body, the MQTT payload, the stream record."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    id: str = Field(description="Unique per notification (a receiver drops a repeat delivery by it)")
    kind: Literal["alarm.raised", "alarm.acknowledged", "alarm.cleared"]
    ts: int = Field(description="When the alarm changed, epoch ms")
    alarm: Alarm

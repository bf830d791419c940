"""A sensor as the agent's config declares it, and the processing of its samples into readings.

Processing is pure: key naming, scale and offset, and report-on-change with a deadband.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.agent_state import SENSOR_NAME_PATTERN
from contracts.telemetry import SENSOR_KEY_PATTERN, Value
from device_drivers.base import Sample

_KEY_RE = re.compile(SENSOR_KEY_PATTERN)


class SensorSpec(BaseModel):
    """One ``[[sensors]]`` entry of ``agent.toml``."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(pattern=SENSOR_NAME_PATTERN)]
    driver: str
    options: dict[str, Any] = Field(default_factory=dict)
    interval: float = Field(default=1.0, gt=0, le=86_400, description="Seconds between reads of polled drivers")
    enabled: bool = True
    type: str | None = Field(default=None, max_length=64)
    unit: str | None = Field(default=None, max_length=32)
    location: str | None = Field(default=None, max_length=128)
    labels: dict[str, str] = Field(default_factory=dict, max_length=32)
    scale: float = 1.0
    offset: float = 0.0
    deadband: float | None = Field(default=None, ge=0, description="Report a number only when it moved this much")
    max_silence_s: float = Field(default=300.0, gt=0, description="With a deadband, report at least this often")


class SensorReading(NamedTuple):
    """One reading ready for the spool."""

    key: str
    value: Value
    ts: int


class Processor:
    """Turns one sensor's samples into readings: keys, scale/offset, deadband."""

    def __init__(self, spec: SensorSpec) -> None:
        self._spec = spec
        self._last: dict[str, tuple[Value, int]] = {}

    def key(self, field: str | None) -> str:
        return self._spec.name if field is None else f"{self._spec.name}.{field}"

    def process(self, samples: list[Sample], now_ms: int) -> list[SensorReading]:
        out = []
        for sample in samples:
            key = self.key(sample.field)
            if _KEY_RE.fullmatch(key) is None:
                # A field name the hub would refuse (from a CSV header, say): skip it, not the sample.
                continue
            value = sample.value
            if isinstance(value, int | float) and not isinstance(value, bool):
                value = float(value) * self._spec.scale + self._spec.offset
            ts = sample.ts if sample.ts is not None else now_ms
            if self._report(key, value, ts):
                out.append(SensorReading(key, value, ts))
        return out

    def _report(self, key: str, value: Value, ts: int) -> bool:
        band = self._spec.deadband
        last = self._last.get(key)
        if band is None or last is None:
            self._last[key] = (value, ts)
            return True
        previous, reported_at = last
        silent_too_long = ts - reported_at >= self._spec.max_silence_s * 1000
        if isinstance(value, float) and isinstance(previous, float) and not isinstance(previous, bool):
            changed = abs(value - previous) >= band
        else:
            changed = value != previous
        if changed or silent_too_long:
            self._last[key] = (value, ts)
            return True
        return False

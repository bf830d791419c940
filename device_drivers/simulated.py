"""Simulated sensors for demos, tests and load: a sine wave, a random walk, or a CSV replay."""

from __future__ import annotations

import asyncio
import csv
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from device_drivers.base import DriverConfigError, DriverUnavailable, NotWritable, Sample


class SimulatedOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["sine", "random_walk", "replay"] = "sine"
    amplitude: float = 1.0
    period_s: float = Field(default=60.0, gt=0)
    offset: float = 0.0
    start: float = 20.0
    step: float = Field(default=0.1, ge=0)
    min: float = -math.inf
    max: float = math.inf
    seed: int | None = None
    file: Path | None = Field(default=None, description="CSV with a header; each numeric column is a field")
    loop: bool = True

    @model_validator(mode="after")
    def _replay_needs_a_file(self) -> SimulatedOptions:
        if self.kind == "replay" and self.file is None:
            raise ValueError("kind 'replay' needs file = path of a CSV with a header line")
        return self


class SimulatedDriver:
    """A polled driver; ``clock`` (seconds) is injectable so that tests control time."""

    Options = SimulatedOptions
    streaming = False

    def __init__(self, options: SimulatedOptions, clock: Callable[[], float] = time.time) -> None:
        self._options = options
        self._clock = clock
        self._random = random.Random(options.seed)  # noqa: S311 - simulation, not cryptography
        self._value = options.start
        self._rows: list[dict[str, str]] = []
        self._row = 0

    async def open(self) -> None:
        if self._options.kind == "replay":
            assert self._options.file is not None
            self._rows = await asyncio.to_thread(_read_csv, self._options.file)
            self._row = 0

    async def read(self) -> list[Sample]:
        o = self._options
        if o.kind == "sine":
            return [Sample(None, o.offset + o.amplitude * math.sin(2 * math.pi * self._clock() / o.period_s))]
        if o.kind == "random_walk":
            self._value = min(o.max, max(o.min, self._value + self._random.uniform(-o.step, o.step)))
            return [Sample(None, self._value)]
        return self._replay()

    def _replay(self) -> list[Sample]:
        if self._row >= len(self._rows):
            if not self._options.loop or not self._rows:
                return []
            self._row = 0
        row = self._rows[self._row]
        self._row += 1
        samples = []
        for name, text in row.items():
            try:
                samples.append(Sample(name, float(text)))
            except (TypeError, ValueError):
                continue
        return samples

    async def write(self, value: Any) -> None:
        raise NotWritable("simulated sensors cannot be written")

    async def close(self) -> None:
        self._rows = []


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except FileNotFoundError:
        raise DriverUnavailable(f"replay file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DriverConfigError(f"cannot read replay file {path}: {exc}") from None

"""Sampling: one task per sensor, reopening its driver with backoff, feeding readings to the spool.

Desired state may change a sensor's interval or switch it off while it runs; the change takes
effect at once (the current wait is cut short), without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence

from contracts.nodes import SensorInfo
from contracts.telemetry import Value
from device_drivers.base import Driver, DriverError
from device_drivers.registry import create_driver
from device_drivers.sensor import Processor, SensorSpec

log = logging.getLogger(__name__)
Emit = Callable[[Sequence[tuple[str, Value, int]]], Awaitable[None]]
#: Sees every sensor's readings as they are emitted: ``(sensor name, readings)`` (the apps' SDK).
Tap = Callable[[str, Sequence[tuple[str, Value, int]]], None]
_RETRY_MIN_S = 1.0
_RETRY_MAX_S = 30.0


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class SensorRunner:
    """Runs one sensor: open, read (or stream), process, emit; reopen after failures."""

    def __init__(self, spec: SensorSpec, emit: Emit) -> None:
        self.spec = spec
        self.tap: Tap | None = None
        self.driver: Driver = create_driver(spec.driver, spec.options)
        self._processor = Processor(spec)
        self._emit = emit
        self.interval = spec.interval
        self.enabled = spec.enabled
        self.state = "starting"
        self.error: str | None = None
        self._changed = asyncio.Event()

    def configure(self, *, interval: float | None = None, enabled: bool | None = None) -> None:
        """Apply desired state now: a running wait ends early and sees the new values."""
        if interval is not None:
            self.interval = interval
        if enabled is not None:
            self.enabled = enabled
        self._changed.set()

    def info(self) -> SensorInfo:
        s = self.spec
        return SensorInfo(
            name=s.name,
            driver=s.driver,
            type=s.type,
            unit=s.unit,
            location=s.location,
            labels=s.labels,
            enabled=self.enabled,
            interval_s=None if self.driver.streaming else self.interval,
            state="disabled" if not self.enabled else self.state,
            error=self.error,
        )

    async def run(self) -> None:
        retry = _RETRY_MIN_S
        while True:
            if not self.enabled:
                await self._wait_change(None)
                continue
            try:
                await self.driver.open()
                self.state, self.error = "ok", None
                retry = _RETRY_MIN_S
                await self._sample()
            except DriverError as exc:
                self.state, self.error = "error", exc.message
                log.warning("sensor %s: %s; retrying in about %.0f s", self.spec.name, exc.message, retry)
            except Exception as exc:
                self.state, self.error = "error", f"internal error: {exc!r}"[:500]
                log.exception("sensor %s failed; retrying in about %.0f s", self.spec.name, retry)
            finally:
                await self.driver.close()
            if self.state == "error":
                await self._wait_change(random.uniform(retry / 2, retry))  # noqa: S311 - jitter
                retry = min(retry * 2, _RETRY_MAX_S)

    async def _sample(self) -> None:
        while self.enabled:
            samples = await self.driver.read()
            readings = self._processor.process(samples, now_ms())
            if readings:
                await self._emit(readings)
                if self.tap is not None:
                    self.tap(self.spec.name, readings)
            if not self.driver.streaming:
                await self._wait_change(self.interval)

    async def _wait_change(self, seconds: float | None) -> None:
        """Wait ``seconds`` (``None``: forever) or until :meth:`configure` is called."""
        self._changed.clear()
        try:
            async with asyncio.timeout(seconds):
                await self._changed.wait()
        except TimeoutError:
            pass


class SensorSet:
    """All sensors of the agent, by name."""

    def __init__(self, specs: Sequence[SensorSpec], emit: Emit) -> None:
        self.runners = {spec.name: SensorRunner(spec, emit) for spec in specs}

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            for name, runner in self.runners.items():
                tasks.create_task(runner.run(), name=f"sensor-{name}")

    def set_tap(self, tap: Tap) -> None:
        """Hand every reading of every sensor to ``tap`` too, from now on."""
        for runner in self.runners.values():
            runner.tap = tap

    def infos(self) -> list[SensorInfo]:
        return [runner.info() for runner in self.runners.values()]

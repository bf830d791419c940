"""Digital GPIO through gpiozero, which picks the Pi's pin library itself (tests use its mock factory).

Inputs report edges (streaming, debounced by ``bounce_time``) or their level when sampled; outputs
are actuators driven by ``write``. gpiozero calls back from its own thread: edges are handed to
the event loop through a bounded queue. Policy when full: the oldest edge is dropped and counted.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from device_drivers.base import DriverUnavailable, NotWritable, Sample

_EDGE_QUEUE = 1000
_ON = {True, "1", "on", "high", "true"}
_OFF = {False, "0", "off", "low", "false"}


def _gpiozero() -> Any:
    import gpiozero  # noqa: PLC0415 - the pin library loads only when a GPIO sensor is used

    return gpiozero


class GpioInOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pin: int | str = Field(description="BCM number (17) or a gpiozero pin name (GPIO17, BOARD11)")
    pull_up: bool | None = True
    bounce_time: float | None = Field(default=0.05, gt=0, description="Debounce in seconds")
    mode: Literal["edge", "sample"] = "edge"


class GpioInDriver:
    """A digital input: ``True`` when active."""

    Options = GpioInOptions

    def __init__(self, options: GpioInOptions) -> None:
        self._options = options
        self.streaming = options.mode == "edge"
        self._device: Any = None
        self._edges: asyncio.Queue[bool] = asyncio.Queue(_EDGE_QUEUE)
        self.dropped = 0

    async def open(self) -> None:
        o = self._options
        gpiozero = _gpiozero()
        try:
            device = gpiozero.DigitalInputDevice(o.pin, pull_up=o.pull_up, bounce_time=o.bounce_time)
        except (gpiozero.GPIOZeroError, OSError) as exc:
            raise DriverUnavailable(f"GPIO {o.pin}: {exc}") from None
        if self.streaming:
            loop = asyncio.get_running_loop()
            device.when_activated = lambda: loop.call_soon_threadsafe(self._edge, True)
            device.when_deactivated = lambda: loop.call_soon_threadsafe(self._edge, False)
        self._device = device

    def _edge(self, value: bool) -> None:
        if self._edges.full():
            self._edges.get_nowait()
            self.dropped += 1
        self._edges.put_nowait(value)

    async def read(self) -> list[Sample]:
        if self._device is None:
            raise DriverUnavailable(f"GPIO {self._options.pin} is not open")
        if self.streaming:
            return [Sample(None, await self._edges.get())]
        return [Sample(None, bool(self._device.value))]

    async def write(self, value: Any) -> None:
        raise NotWritable(f"GPIO {self._options.pin} is an input")

    async def close(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            device.close()


class GpioOutOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pin: int | str
    active_high: bool = True
    initial: bool = False


class GpioOutDriver:
    """A digital output (relay, LED): ``write(True/False, "on"/"off")``; reads report its state."""

    Options = GpioOutOptions
    streaming = False

    def __init__(self, options: GpioOutOptions) -> None:
        self._options = options
        self._device: Any = None

    async def open(self) -> None:
        o = self._options
        gpiozero = _gpiozero()
        try:
            self._device = gpiozero.DigitalOutputDevice(o.pin, active_high=o.active_high, initial_value=o.initial)
        except (gpiozero.GPIOZeroError, OSError) as exc:
            raise DriverUnavailable(f"GPIO {o.pin}: {exc}") from None

    async def read(self) -> list[Sample]:
        if self._device is None:
            raise DriverUnavailable(f"GPIO {self._options.pin} is not open")
        return [Sample(None, bool(self._device.value))]

    async def write(self, value: Any) -> None:
        if self._device is None:
            raise DriverUnavailable(f"GPIO {self._options.pin} is not open")
        key = value.lower() if isinstance(value, str) else value
        if key in _ON:
            self._device.on()
        elif key in _OFF:
            self._device.off()
        else:
            raise NotWritable(f"GPIO {self._options.pin} takes true/false or on/off, not {value!r}")

    async def close(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            device.close()

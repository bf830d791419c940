"""The driver interface every sensor and actuator backend implements, and its errors.

A driver talks to one piece of hardware (a serial port, a GPIO pin, an I2C chip, a sysfs file)
and knows nothing of MQTT, spools or sensor names: it returns :class:`Sample` objects and the
edge agent turns them into readings. Blocking I/O happens off the event loop, inside the driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from contracts.errors import ErrorCode, FieldhubError
from contracts.telemetry import Value


@dataclass(frozen=True, slots=True)
class Sample:
    """One value read by a driver.

    Attributes:
        field: which of several values of one read this is (``"temp"`` of a JSON line, ``"latitude"``
            of an NMEA fix); ``None`` for a driver that reads a single value.
        value: a number, boolean or short string.
        ts: epoch milliseconds when the device itself stamped the value (GPS time); ``None`` lets the
            agent stamp it on arrival.
    """

    field: str | None
    value: Value
    ts: int | None = None


class DriverError(FieldhubError):
    """Base of every error a driver raises; ``message`` is fit to show an operator."""


class DriverConfigError(DriverError):
    """Options that cannot work (unknown key, wrong type, missing device path); raised before opening."""

    code = ErrorCode.INVALID_REQUEST


class DriverUnavailable(DriverError):
    """The hardware is absent or went away (USB adapter unplugged); the agent retries with backoff."""

    code = ErrorCode.UNAVAILABLE
    retryable = True


class NotWritable(DriverError):
    """``write`` on a driver that only reads, or a value the actuator cannot take."""


class Driver(Protocol):
    """A sensor or actuator.

    ``streaming`` drivers (serial lines, GPIO edges) produce values when the device does:
    :meth:`read` waits for the next ones and the agent calls it in a loop. Polled drivers
    (1-Wire, I2C, system, simulated) return the current values at once and the agent calls
    :meth:`read` every ``interval`` seconds.
    """

    streaming: bool

    async def open(self) -> None:
        """Acquire the hardware; raise :class:`DriverUnavailable` if it is not there."""

    async def read(self) -> list[Sample]:
        """The next values (streaming) or the current ones (polled); may be empty."""

    async def write(self, value: Any) -> None:
        """Drive an actuator (set an output, send a line); :class:`NotWritable` for pure sensors."""

    async def close(self) -> None:
        """Release the hardware; safe to call twice and after a failed open."""

"""Serial sensors through pyserial: lines decoded as CSV, JSON lines, NMEA 0183 or a regex.

Streaming: :meth:`SerialDriver.read` waits for the next line that decodes. A bad line is
counted and logged (at most every 10 s) and never stops the driver. When the port goes away
(a USB adapter unplugged) ``read`` raises :class:`DriverUnavailable`; the agent then calls
``open`` again with backoff until the device node is back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Literal

import serial
from pydantic import BaseModel, ConfigDict, Field, model_validator

from device_drivers.base import DriverUnavailable, NotWritable, Sample
from device_drivers.codecs import Codec, CsvCodec, JsonLinesCodec, LineRejected, NmeaCodec, RegexCodec

log = logging.getLogger(__name__)
_LOG_EVERY_S = 10.0


class SerialOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    port: str = Field(min_length=1, description="Device path, e.g. /dev/ttyUSB0 or /dev/serial/by-id/...")
    baudrate: int = Field(default=9600, gt=0)
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O", "M", "S"] = "N"
    stopbits: float = Field(default=1, description="1, 1.5 or 2")
    timeout: float = Field(default=1.0, gt=0, le=60, description="Read timeout; bounds how long close() waits")
    format: Literal["csv", "jsonl", "nmea", "regex"] = "jsonl"
    columns: list[str] | None = None
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    pattern: str | None = None
    encoding: str = "utf-8"
    max_line: int = Field(default=4096, ge=16, le=1 << 20)

    @model_validator(mode="after")
    def _codec_options(self) -> SerialOptions:
        if self.stopbits not in (1, 1.5, 2):
            raise ValueError("stopbits must be 1, 1.5 or 2")
        if self.format == "regex":
            if not self.pattern:
                raise ValueError("format 'regex' needs pattern with named groups, e.g. (?P<temp>[-0-9.]+)")
            RegexCodec(self.pattern)  # refuses a bad pattern now, not at the first line
        return self

    def codec(self) -> Codec:
        if self.format == "csv":
            return CsvCodec(self.columns, self.delimiter)
        if self.format == "nmea":
            return NmeaCodec()
        if self.format == "regex":
            assert self.pattern is not None
            return RegexCodec(self.pattern)
        return JsonLinesCodec()


class SerialDriver:
    """A line-oriented serial device; ``write`` sends a line to it."""

    Options = SerialOptions
    streaming = True

    def __init__(self, options: SerialOptions) -> None:
        self._options = options
        self._codec = options.codec()
        self._port: serial.Serial | None = None
        self._pending = b""
        self.rejected = 0
        self._last_log = 0.0

    async def open(self) -> None:
        o = self._options
        try:
            self._port = await asyncio.to_thread(
                serial.Serial,
                o.port,
                baudrate=o.baudrate,
                bytesize=o.bytesize,
                parity=o.parity,
                stopbits=o.stopbits,
                timeout=o.timeout,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DriverUnavailable(f"cannot open {o.port}: {exc}") from None
        self._pending = b""

    async def read(self) -> list[Sample]:
        while True:
            line = await self._next_line()
            if not line:
                continue
            try:
                samples = self._codec.decode(line)
            except LineRejected as exc:
                self._reject(line, str(exc))
                continue
            if samples:
                return samples

    async def _next_line(self) -> str:
        port = self._port
        if port is None:
            raise DriverUnavailable(f"{self._options.port} is not open")
        try:
            chunk = await asyncio.to_thread(port.readline, self._options.max_line)
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            # TypeError/AttributeError: pyserial's state after the port vanished under it.
            raise DriverUnavailable(f"{self._options.port} went away: {exc}") from None
        data = self._pending + chunk
        if not data.endswith(b"\n"):
            # A timeout cut the line (or it is longer than max_line): keep the start for later.
            if len(data) >= self._options.max_line:
                self._pending = b""
                self._reject(data[:80].decode(errors="replace"), f"line longer than {self._options.max_line}")
            else:
                self._pending = data
            return ""
        self._pending = b""
        return data.decode(self._options.encoding, errors="replace").strip()

    def _reject(self, line: str, why: str) -> None:
        self.rejected += 1
        now = time.monotonic()
        if now - self._last_log >= _LOG_EVERY_S:
            self._last_log = now
            log.warning(
                "%s: refused line %r: %s (%d refused so far)", self._options.port, line[:80], why, self.rejected
            )

    async def write(self, value: Any) -> None:
        port = self._port
        if port is None:
            raise DriverUnavailable(f"{self._options.port} is not open")
        if not isinstance(value, str | int | float):
            raise NotWritable("a serial write takes a line of text")
        data = (str(value).rstrip("\r\n") + "\n").encode(self._options.encoding)
        try:
            await asyncio.to_thread(port.write, data)
        except (serial.SerialException, OSError) as exc:
            raise DriverUnavailable(f"cannot write to {self._options.port}: {exc}") from None

    async def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            await asyncio.to_thread(port.close)

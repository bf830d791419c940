"""DS18B20 temperature sensors on 1-Wire, through the kernel's w1 sysfs files.

``w1_slave`` holds two lines: the first ends in ``YES`` when the CRC is good, the second in
``t=21437`` (milli-degrees Celsius). Reads with a bad CRC and the 85 °C power-on value are
skipped and counted (``skipped``): the next poll usually reads fine.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from device_drivers.base import DriverUnavailable, NotWritable, Sample

_POWER_ON_RESET = 85_000


class OneWireOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str | None = Field(default=None, pattern=r"^28-[0-9a-f]{12}$", description="One sensor, or all")
    base_path: Path = Path("/sys/bus/w1/devices")


class OneWireDriver:
    """Polled; one sensor gives a single value, all sensors give one field per device id."""

    Options = OneWireOptions
    streaming = False

    def __init__(self, options: OneWireOptions) -> None:
        self._options = options
        self.skipped = 0

    def _devices(self) -> list[Path]:
        base, wanted = self._options.base_path, self._options.device_id
        if wanted is not None:
            return [base / wanted]
        return sorted(base.glob("28-*"))

    async def open(self) -> None:
        devices = await asyncio.to_thread(self._devices)
        if not devices or not all((d / "w1_slave").exists() for d in devices):
            where = self._options.device_id or "any DS18B20"
            raise DriverUnavailable(f"no {where} under {self._options.base_path} (is the w1-gpio overlay on?)")

    async def read(self) -> list[Sample]:
        return await asyncio.to_thread(self._read)

    def _read(self) -> list[Sample]:
        samples = []
        for device in self._devices():
            try:
                first, second = (device / "w1_slave").read_text().splitlines()[:2]
            except (OSError, ValueError) as exc:
                raise DriverUnavailable(f"1-Wire {device.name}: {exc}") from None
            _, _, milli = second.rpartition("t=")
            if not first.strip().endswith("YES") or not milli.strip().lstrip("-").isdigit():
                self.skipped += 1
                continue
            value = int(milli)
            if value == _POWER_ON_RESET:
                self.skipped += 1
                continue
            field = None if self._options.device_id else device.name
            samples.append(Sample(field, value / 1000))
        return samples

    async def write(self, value: Any) -> None:
        raise NotWritable("1-Wire temperature sensors cannot be written")

    async def close(self) -> None:
        return None

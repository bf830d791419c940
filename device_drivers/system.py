"""Metrics of the gateway itself: CPU temperature, load, memory, disk and uptime, from /proc and /sys."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from device_drivers.base import DriverUnavailable, NotWritable, Sample


class SystemOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    root: Path = Path("/")
    disk_path: Path = Path("/")


class SystemDriver:
    """Polled; fields: cpu_temp (°C), load1, mem_used_pct, disk_used_pct, uptime_s. Missing files are skipped."""

    Options = SystemOptions
    streaming = False

    def __init__(self, options: SystemOptions) -> None:
        self._root = options.root
        self._disk = options.disk_path

    async def open(self) -> None:
        if not (self._root / "proc" / "loadavg").exists():
            raise DriverUnavailable(f"no {self._root / 'proc/loadavg'}: not a Linux system")

    async def read(self) -> list[Sample]:
        return await asyncio.to_thread(self._read)

    def _read(self) -> list[Sample]:
        samples = []
        proc = self._root / "proc"
        if (text := _text(self._root / "sys/class/thermal/thermal_zone0/temp")) is not None:
            samples.append(Sample("cpu_temp", int(text) / 1000))
        if (text := _text(proc / "loadavg")) is not None:
            samples.append(Sample("load1", float(text.split()[0])))
        if (text := _text(proc / "meminfo")) is not None:
            info = {line.split(":")[0]: int(line.split()[1]) for line in text.splitlines() if line.count(":") == 1}
            if info.get("MemTotal"):
                used = info["MemTotal"] - info.get("MemAvailable", info.get("MemFree", 0))
                samples.append(Sample("mem_used_pct", round(100 * used / info["MemTotal"], 2)))
        if (text := _text(proc / "uptime")) is not None:
            samples.append(Sample("uptime_s", float(text.split()[0])))
        try:
            usage = shutil.disk_usage(self._disk)
            samples.append(Sample("disk_used_pct", round(100 * usage.used / usage.total, 2)))
        except OSError:
            pass
        return samples

    async def write(self, value: Any) -> None:
        raise NotWritable("system metrics cannot be written")

    async def close(self) -> None:
        return None


def _text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, ValueError):
        return None

"""What the node's app instances use, for heartbeats: CPU since the last look and resident memory, from /proc.

Only python services are measured (their process ids are the agent's children); a container's figures would
take a call to the engine per container and heartbeat, and are left out (``None``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


class CpuMeter:
    """Percent of one core each process used between two looks."""

    def __init__(self) -> None:
        self._last: dict[int, tuple[float, float]] = {}

    def sample(self, pids: list[int]) -> tuple[float | None, float | None]:
        """CPU percent since the last look at these pids (``None`` at the first look) and their memory (MB)."""
        now = time.monotonic()
        cpu_pct: float | None = 0.0
        rss_mb = 0.0
        for pid in pids:
            figures = _read(pid)
            if figures is None:
                continue
            cpu_s, rss = figures
            rss_mb += rss
            last = self._last.get(pid)
            self._last[pid] = (cpu_s, now)
            if last is None or now <= last[1]:
                cpu_pct = None
            elif cpu_pct is not None:
                cpu_pct += 100 * (cpu_s - last[0]) / (now - last[1])
        self._last = {pid: seen for pid, seen in self._last.items() if pid in pids}
        return (None if cpu_pct is None else round(cpu_pct, 1)), round(rss_mb, 1)


def _read(pid: int) -> tuple[float, float] | None:
    """CPU seconds used and resident MB of ``pid``, or ``None`` if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS, int(fields[21]) * _PAGE_MB

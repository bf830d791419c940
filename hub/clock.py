"""Hub time: what every stamp, lease and cursor of the hub is measured in."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Hub time in epoch milliseconds."""
    return time.time_ns() // 1_000_000

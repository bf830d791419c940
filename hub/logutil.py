"""Logging helpers for paths that can be flooded by misbehaving devices."""

from __future__ import annotations

import logging
import time


class RateLimitedLog:
    """Log at most one line per key and interval, and say how many were suppressed."""

    def __init__(self, logger: logging.Logger, interval_s: float = 10.0) -> None:
        self._logger = logger
        self._interval = interval_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, msg: str, *args: object) -> None:
        """Log ``msg % args`` at WARNING unless ``key`` was logged within the interval."""
        now = time.monotonic()
        if now - self._last.get(key, -self._interval) < self._interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        self._last[key] = now
        suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            # Extends the format string, not the message: arguments stay lazily formatted.
            self._logger.warning(msg + " (%d similar suppressed)", *args, suppressed)  # noqa: G003
        else:
            self._logger.warning(msg, *args)


def truncate(payload: bytes, limit: int = 120) -> str:
    """A printable excerpt of a payload for logs; never the whole thing."""
    text = payload[:limit].decode("utf-8", errors="replace")
    return text + ("..." if len(payload) > limit else "")

"""Logging helpers for paths that can be flooded by misbehaving devices."""

from __future__ import annotations

import logging
import time


class RateLimit:
    """At most one event per key and interval; counts the ones held back."""

    def __init__(self, interval_s: float) -> None:
        self._interval = interval_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def take(self, key: str) -> tuple[bool, int]:
        """Whether ``key`` may go now, and how many of it were held back since it last went."""
        now = time.monotonic()
        if now - self._last.get(key, -self._interval) < self._interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False, 0
        self._last[key] = now
        return True, self._suppressed.pop(key, 0)


class RateLimitedLog:
    """Log at most one line per key and interval, and say how many were suppressed."""

    def __init__(self, logger: logging.Logger, interval_s: float = 10.0) -> None:
        self._logger = logger
        self._limit = RateLimit(interval_s)

    def warning(self, key: str, msg: str, *args: object) -> None:
        """Log ``msg % args`` at WARNING unless ``key`` was logged within the interval."""
        passed, suppressed = self._limit.take(key)
        if not passed:
            return
        if suppressed:
            # Extends the format string, not the message: arguments stay lazily formatted.
            self._logger.warning(msg + " (%d similar suppressed)", *args, suppressed)  # noqa: G003
        else:
            self._logger.warning(msg, *args)


def truncate(payload: bytes, limit: int = 120) -> str:
    """A printable excerpt of a payload for logs; never the whole thing."""
    text = payload[:limit].decode("utf-8", errors="replace")
    return text + ("..." if len(payload) > limit else "")


class RateLimitFilter(logging.Filter):
    """Lets one record per level through every ``interval_s`` (for a chatty library's logger).

    The next record let through says how many were held back.
    """

    def __init__(self, interval_s: float = 30.0) -> None:
        super().__init__()
        self._limit = RateLimit(interval_s)

    def filter(self, record: logging.LogRecord) -> bool:
        passed, suppressed = self._limit.take(record.levelname)
        if passed and suppressed and isinstance(record.args, tuple):
            # Without arguments the message was never a format string: a literal % must stay one.
            msg = str(record.msg) if record.args else str(record.msg).replace("%", "%%")
            record.msg = msg + " (%d similar suppressed)"
            record.args = (*record.args, suppressed)
        return passed

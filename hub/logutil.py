"""Logging helpers for paths that can be flooded by misbehaving devices."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)
_ACCEPT_FAILED = "socket.accept() out of system resource"


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


@contextmanager
def bounded_accept_errors(interval_s: float = 10.0) -> Iterator[None]:
    """Log the event loop's failed ``accept()`` calls (out of open files) at most once per interval.

    asyncio retries a second later and reports every failure with a traceback, so a listener
    held at the open-file limit would write a traceback a second for as long as it lasts.
    """
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    bounded = RateLimitedLog(log, interval_s)

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == _ACCEPT_FAILED:
            bounded.warning("accept", "cannot accept connections: %s", context.get("exception"))
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)
    try:
        yield
    finally:
        loop.set_exception_handler(previous)

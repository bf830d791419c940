"""Ships the agent's own log lines to the hub: rate-limited, batched and spooled like readings.

Policy when a burst exceeds ``max_per_minute``: further lines in that minute are dropped and
counted, and one line saying how many were dropped goes out when the minute is over. The
in-memory buffer between the logging call and the spool is bounded the same way.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from edge_agent.spool import Spool

_FLUSH_S = 1.0
_MAX_LINE = 2000


class LogShipper(logging.Handler):
    """A logging handler that buffers records; :meth:`run` moves them into the spool."""

    def __init__(self, spool: Spool, max_per_minute: int, wake: Callable[[], None], level: int) -> None:
        super().__init__(level)
        self._spool = spool
        self._max = max_per_minute
        self._wake = wake
        self._buffer: deque[dict[str, object]] = deque(maxlen=max_per_minute)
        self._guard = threading.Lock()
        self._window = time.monotonic()
        self._count = 0
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        now = time.monotonic()
        with self._guard:
            if now - self._window >= 60:
                if self._count > self._max:
                    dropped = f"{self._count - self._max} log lines dropped (over {self._max} a minute)"
                    self._buffer.append(self._line(record.created, "WARNING", dropped))
                self._window, self._count = now, 0
            self._count += 1
            if self._count > self._max:
                self.dropped += 1
                return
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            line = self._line(record.created, record.levelname, message[:_MAX_LINE], record.name)
            self._buffer.append(line)

    @staticmethod
    def _line(created: float, level: str, message: str, logger: str = "fieldhub.agent") -> dict[str, object]:
        return {"ts": int(created * 1000), "level": level, "logger": logger, "message": message}

    async def run(self) -> None:
        """Move buffered lines into the spool every second until cancelled."""
        while True:
            await asyncio.sleep(_FLUSH_S)
            with self._guard:
                lines = list(self._buffer)
                self._buffer.clear()
            if lines:
                await asyncio.to_thread(self._spool.append_logs, lines, int(time.time() * 1000))
                self._wake()

"""App output as log lines: every line a service writes, with where it came from, through the node's spool.

App lines do not go through the agent's own log shipper (rate-limited, for the agent's diagnostics): they are
data the developer asked for, so every line is kept and goes into the spool, and nothing is lost while the
node is cut off. Between the services and the spool sits a bounded buffer, flushed every half second; a
service writing faster than the spool takes lines loses the oldest of them, counted, and one line says so.

Each line is a :class:`contracts.nodes.LogLine` with the app's fields set (app, version, deployment, instance,
service, stream). Its level is the first level word near the start of the line (``INFO``, ``WARNING``...,
as most logging setups print it), else ``INFO`` for stdout and ``ERROR`` for stderr (tracebacks).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Callable

from contracts.nodes import MAX_LOG_MESSAGE
from edge_agent.spool import Spool

#: Lines waiting for the spool; beyond it the oldest are dropped (and counted).
BUFFER_LINES = 20_000
_FLUSH_S = 0.5
_LEVEL = re.compile(r"\b(DEBUG|INFO|WARN(?:ING)?|ERROR|CRITICAL|FATAL)\b")
_LEVELS = {"WARN": "WARNING", "FATAL": "CRITICAL"}
_HEAD = 48


def level_of(line: str, stream: str) -> str:
    """The level a line states near its start, else the stream's."""
    found = _LEVEL.search(line, 0, _HEAD)
    if found is not None:
        word = found.group(1)
        return _LEVELS.get(word, word)
    return "ERROR" if stream == "stderr" else "INFO"


class AppLogs:
    """Buffers app lines and moves them into the spool; :meth:`run` until cancelled."""

    def __init__(self, spool: Spool, wake: Callable[[], None]) -> None:
        self._spool = spool
        self._wake = wake
        self._buffer: deque[dict[str, object]] = deque(maxlen=BUFFER_LINES)
        self.dropped = 0
        self._dropped_told = 0

    def add(self, fields: dict[str, object], stream: str, line: str) -> None:
        """One line of a service; ``fields`` names the app, version, deployment, instance and service."""
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
        record = {
            "ts": int(time.time() * 1000),
            "level": level_of(line, stream),
            "logger": "app",
            "message": line[:MAX_LOG_MESSAGE],
            "stream": stream,
            **fields,
        }
        self._buffer.append(record)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(_FLUSH_S)
            await self.flush()

    async def flush(self) -> None:
        """Move what is buffered into the spool now (also at shutdown)."""
        lines = list(self._buffer)
        self._buffer.clear()
        if self.dropped > self._dropped_told:
            lost = self.dropped - self._dropped_told
            self._dropped_told = self.dropped
            message = f"{lost} app log lines dropped: the apps wrote faster than the spool took them"
            lines.append({"ts": int(time.time() * 1000), "level": "WARNING", "logger": "app", "message": message})
        if lines:
            await asyncio.to_thread(self._spool.append_logs, lines, int(time.time() * 1000))
            self._wake()

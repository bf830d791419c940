"""The hub's own log records into the log store, as node ``hub``: a logging handler that never blocks.

:meth:`HubLogHandler.emit` only appends to a bounded buffer (any thread may log); a task of the hub process moves
the buffer into the store every second (:class:`hub.logs.upkeep.LogUpkeep`). Records pass at most
``per_s`` a second on average (bursts of ``burst``); the rest, and whatever finds the buffer full, are dropped
and counted, and one line says so. Records of :mod:`hub.logs` itself are not taken: a store that cannot take
lines must not feed itself lines about it.
"""

from __future__ import annotations

import logging
import time
from collections import deque

from contracts.nodes import MAX_LOG_MESSAGE
from hub.ratelimit import TokenBucket
from hub.store.logs import HUB_NODE, HUB_TENANT, LEVELS, NewLine

BUFFER = 1000
_OWN = "hub.logs"


def level_number(levelno: int) -> int:
    """A record's level as one of :data:`hub.store.logs.LEVELS` (custom levels go down to the one below)."""
    return min(LEVELS["CRITICAL"], max(LEVELS["DEBUG"], levelno // 10 * 10))


class HubLogHandler(logging.Handler):
    """Keeps the hub's records (``level`` and up) for the log store, rate-limited; :meth:`drain` takes them."""

    def __init__(self, source: str, level: int = logging.WARNING, per_s: float = 10.0, burst: int = 100) -> None:
        """``source`` names the process (its replica id); it goes into each line's ``service``."""
        super().__init__(level)
        self._source = source
        self._per_s = per_s
        self._bucket = TokenBucket(per_s, float(burst))
        self._buffer: deque[NewLine] = deque(maxlen=BUFFER)
        self.dropped = 0
        self._dropped_told = 0

    def emit(self, record: logging.LogRecord) -> None:
        # logging holds this handler's lock around emit: the bucket needs no lock of its own.
        if record.name == _OWN or record.name.startswith(_OWN + "."):
            return
        if len(self._buffer) == self._buffer.maxlen or not self._bucket.take():
            self.dropped += 1
            return
        try:
            message = self.format(record)
        except (TypeError, ValueError, KeyError):  # arguments that do not format: logging would print a traceback
            message = str(record.msg)
        self._buffer.append(
            NewLine(
                tenant=HUB_TENANT,
                node=HUB_NODE,
                ts=int(record.created * 1000),
                level=level_number(record.levelno),
                logger=record.name[:128],
                message=message[:MAX_LOG_MESSAGE],
                service=self._source[:32],
            )
        )

    def drain(self) -> list[NewLine]:
        """What was buffered since the last call, and a line telling of records dropped meanwhile."""
        lines = []
        while self._buffer:
            lines.append(self._buffer.popleft())
        lost = self.dropped - self._dropped_told
        if lost:
            self._dropped_told = self.dropped
            message = f"{lost} hub log records dropped: more than {self._per_s:g} a second"
            lines.append(
                NewLine(
                    tenant=HUB_TENANT,
                    node=HUB_NODE,
                    ts=int(time.time() * 1000),
                    level=LEVELS["WARNING"],
                    logger=_OWN,
                    message=message,
                    service=self._source[:32],
                )
            )
        return lines

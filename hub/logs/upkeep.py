"""What the hub process does for the log store in the background: its own records in, old lines out.

``async with LogUpkeep(...)`` attaches the :class:`HubLogHandler` to the root logger and runs the task that moves
its records into the store every second, and the retention rounds; leaving detaches the handler and stores what
it still held.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

from hub.errors import FieldhubError
from hub.logs.handler import HubLogHandler
from hub.logs.retention import Retention
from hub.logs.service import LogService
from hub.tasks import Background

log = logging.getLogger(__name__)
FLUSH_S = 1.0


class LogUpkeep:
    """The hub's log handler and the log store's retention, as background work of the hub process."""

    def __init__(self, service: LogService, handler: HubLogHandler | None, retention: Retention | None) -> None:
        self.service = service
        self.handler = handler
        self.retention = retention
        self._background = Background()

    async def __aenter__(self) -> LogUpkeep:
        await self._background.open()
        if self.handler is not None:
            logging.getLogger().addHandler(self.handler)
            self._background.spawn(self._ship(), name="hub-log-lines")
        if self.retention is not None:
            self._background.spawn(self.retention.run(), name="log-retention")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._background.close()
        if self.handler is not None:
            logging.getLogger().removeHandler(self.handler)
            await self.flush()

    async def flush(self) -> None:
        """Store the records the handler holds now."""
        if self.handler is None:
            return
        lines = self.handler.drain()
        try:
            await self.service.append(lines)
        except FieldhubError as exc:  # the store away: these lines are lost (the process's own log still has them)
            log.debug("could not store %d hub log lines: %s", len(lines), exc.message)

    async def _ship(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)  # a periodic job: records arrive from any thread, without a wake-up
            await self.flush()

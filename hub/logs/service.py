"""Stores the lines nodes ship and the hub writes, answers searches, and follows new lines for live tails.

Every hub process that takes node messages stores their lines (``fieldhub up`` and ingest replicas alike); a
live tail reads the store, so it sees lines whatever process stored them: at once when this process stored
them (it is woken), within :data:`POLL_S` otherwise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import replace

from contracts.nodes import LogLine
from hub.store.logs import LEVELS, LogQuery, LogStore, NewLine, StoredLine

#: How often a tail looks for lines another process stored.
POLL_S = 1.0
#: Most lines a tail reads at once.
TAIL_BATCH = 500


def new_line(tenant: str, node: str, line: LogLine) -> NewLine:
    """A shipped line of ``node`` (an agent's own or one of its apps') as the store keeps it."""
    return NewLine(
        tenant=tenant,
        node=node,
        ts=line.ts,
        level=LEVELS[line.level],
        logger=line.logger,
        message=line.message,
        app=line.app,
        version=line.version,
        deployment=line.deployment,
        instance=line.instance,
        service=line.service,
        stream=line.stream,
    )


class LogService:
    """The log store behind ingest, the hub's own log handler, the API and its live tails."""

    def __init__(self, store: LogStore) -> None:
        self.store = store
        self._stored = asyncio.Event()

    async def ingest(self, tenant: str, node: str, lines: Sequence[LogLine]) -> None:
        """Store the lines a node shipped (validated: :class:`LogLine`)."""
        await self.append([new_line(tenant, node, line) for line in lines])

    async def append(self, lines: Sequence[NewLine]) -> None:
        """Store ``lines`` and wake this process's tails."""
        if not lines:
            return
        await self.store.append(lines)
        # Wake whoever waits now; later waiters wait on a fresh event.
        stored, self._stored = self._stored, asyncio.Event()
        stored.set()

    async def search(self, query: LogQuery) -> list[StoredLine]:
        return await self.store.search(query)

    async def tail(self, query: LogQuery) -> Tail:
        """A tail of the lines matching ``query`` stored from now on.

        Raises:
            InvalidInput: the text query is not one the store can run (found now, before a stream starts).
        """
        cursor = await self.store.last_id()
        await self.store.search(replace(query, limit=1, after=cursor))
        return Tail(self, query, cursor)

    def _wakeup(self) -> asyncio.Event:
        return self._stored


class Tail:
    """New lines matching a query, in store order; :meth:`next` until the follower goes."""

    def __init__(self, service: LogService, query: LogQuery, cursor: int) -> None:
        self._service = service
        self._query = replace(query, limit=TAIL_BATCH, after=cursor)

    async def next(self, wait_s: float) -> list[StoredLine]:
        """The lines stored since the last call, waiting up to ``wait_s`` for some (empty if none came)."""
        deadline = time.monotonic() + wait_s
        while True:
            woken = self._service._wakeup()  # taken before the read: a line stored meanwhile sets it
            lines = await self._service.store.search(self._query)
            if lines:
                self._query = replace(self._query, after=lines[-1].id)
                return lines
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            try:
                async with asyncio.timeout(min(remaining, POLL_S)):
                    await woken.wait()
            except TimeoutError:
                pass

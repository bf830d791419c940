"""The event service: components record events, a writer stores them, followers read them live.

:meth:`Events.record` is cheap and never fails the caller: it checks the kind, bounds the message and data and
puts the event on a bounded queue. One writer task stores what is queued in one write (a store that is away is
retried with capped backoff, the events wait in the queue); when the queue is full the newest event is dropped,
counted and logged, since a component's fault handling must not wait on its own report of it.

Followers (live streams, the webhook dispatcher) read the store after a cursor, so they see what any hub process
stored: at once when this process stored it (they are woken), within :data:`POLL_S` otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Self

import orjson

from contracts.events import MAX_DATA_BYTES, MAX_MESSAGE_CHARS, Event, EventKind
from hub.batches import BatchWriter
from hub.clock import now_ms
from hub.logutil import RateLimitedLog
from hub.retention import keep_for
from hub.retry import Backoff
from hub.store.events import EventQuery, EventStore, NewEvent
from hub.tasks import Background

log = logging.getLogger(__name__)

#: How often a follower looks for events another process stored.
POLL_S = 1.0
#: Most events a follower reads, or the writer stores, at once.
BATCH = 500


@dataclass(frozen=True, slots=True)
class EventRetention:
    """Keep, per tenant, the newest ``max_per_tenant`` events, none older than ``days``; trim every ``interval_s``."""

    days: float = 30.0
    max_per_tenant: int = 100_000
    interval_s: float = 600.0


class Events:
    """Records, stores and follows platform events; ``async with`` runs the writer."""

    def __init__(
        self,
        store: EventStore,
        *,
        queue_size: int = 10_000,
        backoff: Backoff | None = None,
    ) -> None:
        self.store = store
        self._stored = asyncio.Event()
        self._background = Background()
        self._log = RateLimitedLog(log)
        self._writer = BatchWriter(
            store.append, self._woken, self._log, what="event(s)", batch=BATCH, queue_size=queue_size, backoff=backoff
        )
        #: Events dropped because the queue was full (the store was away too long, or they came too fast).
        self.dropped = 0

    async def __aenter__(self) -> Self:
        await self._background.open()
        self._background.spawn(self._writer.run(), name="events-writer")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._background.close()
        # What was recorded but not yet stored gets one more try; the store closes after this.
        await self._writer.close()

    async def keep(self, retention: EventRetention) -> None:
        """Trim the events as ``retention`` says, every ``retention.interval_s``, until cancelled (one process)."""

        async def trim(before: int) -> int:
            return await self.store.trim(before, retention.max_per_tenant)

        await keep_for(retention.days, retention.interval_s, trim, "event", log)

    def record(
        self,
        kind: EventKind | str,
        tenant: str,
        *,
        message: str,
        deployment: str | None = None,
        node: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Record that something happened (not a coroutine: it never waits).

        Raises:
            ValueError: ``kind`` is not an :class:`EventKind` (a mistake in the caller, not a passing fault).
        """
        event = NewEvent(
            ts=now_ms(),
            tenant=tenant,
            kind=EventKind(kind).value,
            message=message[:MAX_MESSAGE_CHARS],
            deployment=deployment,
            node=node,
            data=_bounded(data),
        )
        if not self._writer.put(event):
            self.dropped += 1
            self._log.warning("events", "dropped a %s event of %s: the event queue is full", event.kind, tenant)

    async def query(self, query: EventQuery) -> list[Event]:
        """Stored events matching ``query`` (see :meth:`EventStore.query`)."""
        return await self.store.query(query)

    async def follow(self, query: EventQuery, after: int | None = None) -> Follow:
        """Events matching ``query`` stored after the one with id ``after`` (default: from now on)."""
        cursor = await self.store.last_id() if after is None else after
        return Follow(self, query, cursor)

    def _wakeup(self) -> asyncio.Event:
        return self._stored

    def _woken(self, stored: list[Event]) -> None:
        # Wake whoever waits now; later waiters wait on a fresh event.
        woken, self._stored = self._stored, asyncio.Event()
        woken.set()


class Follow:
    """New events matching a query, in store order; :meth:`next` until the follower goes."""

    def __init__(self, events: Events, query: EventQuery, cursor: int) -> None:
        self._events = events
        self._query = replace(query, limit=BATCH, after=cursor)

    @property
    def cursor(self) -> int:
        """The id of the last event handed out (or where the follower started)."""
        return self._query.after or 0

    async def next(self, wait_s: float) -> list[Event]:
        """The events stored since the last call, waiting up to ``wait_s`` for some (empty if none came)."""
        deadline = time.monotonic() + wait_s
        while True:
            woken = self._events._wakeup()  # taken before the read: an event stored meanwhile sets it
            found = await self._events.store.query(self._query)
            if found:
                self._query = replace(self._query, after=found[-1].id)
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            try:
                async with asyncio.timeout(min(remaining, POLL_S)):
                    await woken.wait()
            except TimeoutError:
                pass


def _bounded(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """``data`` as a small JSON object: anything not JSON becomes its text; too large, a note saying so."""
    if not data:
        return {}
    body = orjson.dumps(dict(data), default=str)
    if len(body) > MAX_DATA_BYTES:
        return {"truncated": True, "bytes": len(body)}
    loaded: dict[str, Any] = orjson.loads(body)
    return loaded

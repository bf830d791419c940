"""A consumer of the stored events that goes on where it stopped, in whichever process runs it next.

Its cursor is the id of an event it handled all up to, saved in the event store under its name
(:meth:`hub.store.events.EventStore.set_cursor`). :func:`resume` follows the events after it; :class:`SavedCursor`
saves it as it moves, off the consumer's path.
"""

from __future__ import annotations

import asyncio
import logging

from hub.errors import StoreUnavailable
from hub.events.service import Events, Follow
from hub.logutil import RateLimitedLog
from hub.retry import Backoff
from hub.store.events import EventQuery, EventStore

log = logging.getLogger(__name__)


async def resume(events: Events, query: EventQuery, name: str) -> Follow:
    """Follow the events matching ``query`` after consumer ``name``'s saved cursor.

    On its first start ever (no cursor) it starts from the newest event, and saves that at once, so that a
    successor started before the first move still misses nothing stored since. A cursor whose events retention
    removed resumes at the oldest event kept.
    """
    saved = await events.store.get_cursor(name)
    newest = await events.store.last_id()
    if saved is None:
        await events.store.set_cursor(name, newest)
        return await events.follow(query, after=newest)
    # Ids are never given twice, so a cursor above the newest id is one of a store whose events started over
    # (restored from a backup): resuming at its newest event misses nothing, the cursor would miss all.
    return await events.follow(query, after=min(saved, newest))


class SavedCursor:
    """Saves consumer ``name``'s cursor while :meth:`run` runs: one write at a time, the latest move in each."""

    def __init__(self, store: EventStore, name: str, saved: int, backoff: Backoff | None = None) -> None:
        self.name = name
        self._store = store
        self._saved = self._wanted = saved
        self._moved = asyncio.Event()
        self._backoff = backoff or Backoff(1.0, 30.0)
        self._log = RateLimitedLog(log)

    def move(self, event_id: int) -> None:
        """The consumer handled every event up to ``event_id``: save it soon (not a coroutine: it never waits)."""
        if event_id != self._wanted:
            self._wanted = event_id
            self._moved.set()

    async def run(self) -> None:
        """Save each move, until cancelled; moves made during a write are saved together by the next."""
        delays = self._backoff.delays()
        while True:
            await self._moved.wait()
            self._moved.clear()
            if await self.save():
                delays = self._backoff.delays()
                continue
            self._moved.set()  # try again after a while: the store is away
            await asyncio.sleep(next(delays))

    async def save(self) -> bool:
        """Save the latest move now, if it is not saved yet; False if the store was away (that is logged)."""
        wanted = self._wanted
        if wanted == self._saved:
            return True
        try:
            await self._store.set_cursor(self.name, wanted)
        except StoreUnavailable as exc:
            self._log.warning(f"cursor:{self.name}", "cannot save the cursor of %s: %s", self.name, exc.message)
            return False
        self._saved = wanted
        return True

"""Storing what components record, in batches, without ever making them wait: the writer of events and audit.

:meth:`BatchWriter.put` never waits: a full queue refuses the item (the caller counts and logs it). One task
stores what is queued in one write, retrying a store that is away with capped backoff while the items wait. A
write in progress when the task is cancelled is let finish (it runs shielded), so :meth:`BatchWriter.close`
neither loses that batch nor stores it a second time; then it stores what is left once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from hub.errors import StoreUnavailable
from hub.logutil import RateLimitedLog
from hub.retry import Backoff

T = TypeVar("T")
R = TypeVar("R")


class BatchWriter(Generic[T, R]):
    """Queues items and stores them with ``append``; ``stored`` is told of every stored batch, in store order."""

    def __init__(
        self,
        append: Callable[[list[T]], Awaitable[list[R]]],
        stored: Callable[[list[R]], None],
        log: RateLimitedLog,
        *,
        what: str,
        batch: int = 500,
        queue_size: int = 10_000,
        backoff: Backoff | None = None,
    ) -> None:
        self._append = append
        self._stored = stored
        self._log = log
        self._what = what
        self._batch = batch
        self._queue: asyncio.Queue[T] = asyncio.Queue(maxsize=queue_size)
        self._backoff = backoff or Backoff(first_s=0.1, cap_s=5.0)
        self._pending: list[T] = []
        self._writing: asyncio.Future[list[R]] | None = None

    def put(self, item: T) -> bool:
        """Queue ``item`` (never waits); ``False`` if the queue is full."""
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            return False
        return True

    async def run(self) -> None:
        """Store what is queued, until cancelled."""
        while True:
            if not self._pending:
                self._pending = [await self._queue.get()]
                while len(self._pending) < self._batch and not self._queue.empty():
                    self._pending.append(self._queue.get_nowait())
            delays = self._backoff.delays()
            while True:
                self._writing = asyncio.ensure_future(self._append(self._pending))
                try:
                    stored = await asyncio.shield(self._writing)
                    break
                except StoreUnavailable as exc:
                    delay = next(delays)
                    self._log.warning(
                        f"{self._what}-store",
                        "storing %d %s failed, again in %.1fs: %s",
                        len(self._pending),
                        self._what,
                        delay,
                        exc.message,
                    )
                    await asyncio.sleep(delay)  # backoff between attempts at the store
            self._writing = None
            self._pending = []
            self._stored(stored)

    async def close(self) -> int:
        """After :meth:`run` was cancelled: let its write finish, then store what is left once; how many items
        were lost (logged) because the store was away."""
        if self._writing is not None:
            try:
                self._stored(await self._writing)
                self._pending = []
            except StoreUnavailable:
                pass  # not stored: the batch goes again with the rest
            self._writing = None
        left = self._pending + [self._queue.get_nowait() for _ in range(self._queue.qsize())]
        self._pending = []
        if not left:
            return 0
        try:
            self._stored(await self._append(left))
        except StoreUnavailable as exc:
            self._log.warning(f"{self._what}-lost", "%d %s lost on the way out: %s", len(left), self._what, exc.message)
            return len(left)
        return 0

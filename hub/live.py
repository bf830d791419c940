"""Live fan-out of stored telemetry to API subscribers (SSE), from the outbox.

Whichever hub process stored a message (``fieldhub up`` or an ingest replica), every process
serving the API follows the outbox and hands it to its subscribers. The outbox is followed only
while someone listens, from the newest batch at that moment.

Policy when a subscriber is slow: its bounded queue drops the newest events and the drop is
counted; a live view is best-effort, the store has everything.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Self

from hub.follower import Followers, OutboxFollower
from hub.metrics import Metrics
from hub.store.outbox import Outbox, StoredBatch
from hub.store.telemetry import Message
from hub.tasks import Background


class LiveFeed:
    """Per-device subscriber queues fed from the outbox; ``async with`` runs the follower."""

    def __init__(
        self, outbox: Outbox, followers: Followers, process: str, metrics: Metrics, queue_size: int = 1000
    ) -> None:
        self._outbox = outbox
        self._followers = followers
        # This process's lease on the outbox while it has subscribers.
        self._lease = f"live:{process}"
        self._metrics = metrics
        self._queue_size = queue_size
        self._subscribers: dict[str, set[asyncio.Queue[Message]]] = {}
        self._listening = asyncio.Event()
        self._starting = asyncio.Lock()  # the first subscribers take the lease once
        self._follower: OutboxFollower | None = None
        self._background = Background()

    async def __aenter__(self) -> Self:
        await self._background.open()
        self._background.spawn(self._follow(), name="live-feed")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._background.close()

    @asynccontextmanager
    async def subscribe(self, device_id: str) -> AsyncIterator[asyncio.Queue[Message]]:
        """Receive every message of ``device_id`` stored while the block runs."""
        queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=self._queue_size)
        async with self._starting:
            if self._follower is None:
                # Ingest appends to the outbox only while followed: this process from the lease on, the others
                # once they look (the lease waits for that). The head is read first, so what this process
                # stores while the lease waits reaches the subscriber too, not only what comes after.
                head = await self._outbox.head()
                await self._followers.lease(self._lease)
                self._follower = OutboxFollower(self._outbox, head)
        self._subscribers.setdefault(device_id, set()).add(queue)
        self._listening.set()
        try:
            yield queue
        finally:
            subscribers = self._subscribers.get(device_id, set())
            subscribers.discard(queue)
            if not subscribers:
                self._subscribers.pop(device_id, None)

    def offer(self, batch: StoredBatch) -> None:
        """A batch this process just stored (the pipeline calls this; never blocks)."""
        if self._follower is not None:
            self._follower.offer(batch)

    async def _follow(self) -> None:
        while True:
            follower = self._follower
            if follower is None or not self._subscribers:
                if follower is not None:
                    self._follower = None
                    await self._followers.release(self._lease)
                self._listening.clear()
                await self._listening.wait()
                continue
            batches = await follower.next()
            follower.done(batches[-1].position)
            for batch in batches:
                self._publish(batch.messages)

    def _publish(self, messages: Sequence[Message]) -> None:
        for item in messages:
            for queue in self._subscribers.get(item.device_id, ()):
                try:
                    queue.put_nowait(item)
                except asyncio.QueueFull:
                    self._metrics.live_dropped.inc()

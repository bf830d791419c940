"""Live fan-out of stored telemetry to API subscribers (SSE).

Policy when a subscriber is slow: its bounded queue drops the newest events and the
drop is counted; a live view is best-effort, the store has everything.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hub.ingest.accepted import Accepted
from hub.metrics import Metrics


class LiveFeed:
    """Per-device subscriber queues fed by the ingest pipeline after each stored batch."""

    def __init__(self, metrics: Metrics, queue_size: int = 1000) -> None:
        self._metrics = metrics
        self._queue_size = queue_size
        self._subscribers: dict[str, set[asyncio.Queue[Accepted]]] = {}

    @asynccontextmanager
    async def subscribe(self, device_id: str) -> AsyncIterator[asyncio.Queue[Accepted]]:
        """Receive every message of ``device_id`` stored while the block runs."""
        queue: asyncio.Queue[Accepted] = asyncio.Queue(maxsize=self._queue_size)
        self._subscribers.setdefault(device_id, set()).add(queue)
        try:
            yield queue
        finally:
            subscribers = self._subscribers.get(device_id, set())
            subscribers.discard(queue)
            if not subscribers:
                self._subscribers.pop(device_id, None)

    def publish(self, batch: list[Accepted]) -> None:
        """Hand a stored batch to the subscribers of its devices."""
        if not self._subscribers:
            return
        for item in batch:
            for queue in self._subscribers.get(item.device_id, ()):
                try:
                    queue.put_nowait(item)
                except asyncio.QueueFull:
                    self._metrics.live_dropped.inc()

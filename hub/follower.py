"""Following the outbox from a position, for the consumers that come after ingest (streams, live feeds).

Batches this process just wrote are handed over in memory (no read back while a consumer keeps
up); whatever memory cannot vouch for, because another process wrote in between, the consumer
fell behind or it just started, is read from the store. Either way the consumer sees every
batch once, in store order.
"""

from __future__ import annotations

import asyncio
from collections import deque

from hub.store.outbox import Outbox, StoredBatch


class OutboxFollower:
    """Hands out the batches after :attr:`position`; the consumer calls :meth:`done` once it handled them.

    Policy when the consumer is slow: at most ``memory`` batches wait in memory; past that they
    are let go and read from the store when their turn comes, so ingest never waits for it.
    """

    def __init__(self, outbox: Outbox, position: int, *, memory: int = 64, page: int = 16, poll_s: float = 0.5) -> None:
        self.position = position
        self._outbox = outbox
        self._memory: deque[StoredBatch] = deque()
        self._memory_max = memory
        self._page = page
        # Batches other processes write only show in the store: look there this often when idle.
        self._poll_s = poll_s
        self._wake = asyncio.Event()

    def offer(self, batch: StoredBatch) -> None:
        """A batch this process stored just now (never blocks)."""
        if batch.position <= self.position:
            return
        if len(self._memory) >= self._memory_max:
            self._memory.clear()  # the store has them; memory would only grow
        self._memory.append(batch)
        self._wake.set()

    async def next(self) -> list[StoredBatch]:
        """The batches right after :attr:`position`, waiting until there is at least one."""
        while True:
            memory = self._memory
            while memory and memory[0].position <= self.position:
                memory.popleft()
            if memory and memory[0].position == self.position + 1:
                run = [memory.popleft()]
                while memory and memory[0].position == run[-1].position + 1 and len(run) < self._page:
                    run.append(memory.popleft())
                return run
            found = await self._outbox.since(self.position, self._page)
            if found:
                return found
            self._wake.clear()
            try:
                async with asyncio.timeout(self._poll_s):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def done(self, position: int) -> None:
        """Everything up to ``position`` is handled."""
        self.position = max(self.position, position)

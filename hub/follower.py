"""Following the outbox from a position, for the consumers that come after ingest (streams, live feeds).

Batches this process just wrote are handed over in memory (no read back while a consumer keeps
up); whatever memory cannot vouch for, because another process wrote in between, the consumer
fell behind or it just started, is read from the store. Either way the consumer sees every
batch once, in store order.
"""

from __future__ import annotations

import asyncio
from collections import deque

from hub.clock import now_ms
from hub.errors import StoreUnavailable
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


class Followers:
    """Whether the outbox is followed, so that ingest appends to it only then.

    Appending every stored batch costs a sixth of batched ingest; nobody reads it without a stream
    configured or a live subscriber. Followers of this process count at once; those of other
    processes are read from the store every ``refresh_s`` (their durable cursors, and the leases
    passing followers renew while they follow). A passing follower's first lease waits
    ``refresh_s`` and a little more before it reads, so that every process appends by then.
    """

    def __init__(self, outbox: Outbox, *, lease_s: float = 10.0, refresh_s: float = 1.0) -> None:
        self._outbox = outbox
        self._lease_ms = int(lease_s * 1000)
        self.refresh_s = refresh_s
        self._local = 0
        self._leases: set[str] = set()
        self._remote = True  # until the first look says otherwise: never miss a batch at start

    @property
    def wanted(self) -> bool:
        return self._local > 0 or self._remote

    def join(self) -> None:
        """A follower in this process (a stream forwarder, which its durable cursor makes known elsewhere)."""
        self._local += 1

    async def lease(self, name: str) -> None:
        """A passing follower in this process: known at once here, and to the others once they look."""
        self._local += 1
        self._leases.add(name)
        await self._outbox.lease(name, now_ms() + self._lease_ms)
        await asyncio.sleep(self.refresh_s * 1.5)  # the other processes' next look: then they append

    async def release(self, name: str) -> None:
        self._local -= 1
        self._leases.discard(name)
        await self._outbox.release(name)

    async def run(self) -> None:
        """Renew this process's leases and look for other processes' followers, until cancelled."""
        while True:
            now = now_ms()
            try:
                for name in list(self._leases):
                    await self._outbox.lease(name, now + self._lease_ms)
                self._remote = await self._outbox.followed(now)
            except StoreUnavailable:
                self._remote = True  # when in doubt, append: a batch left out is lost to every follower
            await asyncio.sleep(self.refresh_s)  # a periodic look: nothing to wait for but time

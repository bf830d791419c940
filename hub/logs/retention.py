"""Retention of the log store: lines older than the age limit (a tenant's own ``logs_days``, else the hub's), and
the oldest past the size limit, are archived to the blob store (:mod:`hub.logs.archive`) and then removed, in
batches, every ``interval_s``.

A batch is removed only once its archive is written: when the blob store fails, the lines stay and the next
round tries again (the store may then hold more than the limit for a while, never less than it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hub.blobs.base import BlobStore
from hub.clock import now_ms
from hub.errors import FieldhubError
from hub.logs.archive import archive
from hub.store.logs import LogStore, StoredLine
from hub.store.registry import RegistryStore

log = logging.getLogger(__name__)
_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long and how many lines the store keeps, and how they leave it."""

    max_age_days: float
    max_lines: int
    interval_s: float = 300.0
    #: Archive lines to the blob store before removing them (off: they are only removed).
    archive: bool = True
    #: Lines archived and removed at once.
    batch: int = 5000


class Retention:
    """Enforces a :class:`RetentionPolicy` on a log store; :meth:`run` until cancelled."""

    def __init__(
        self,
        store: LogStore,
        blobs: BlobStore | None,
        policy: RetentionPolicy,
        clock: Callable[[], int] = now_ms,
        *,
        tenants: RegistryStore | None = None,
    ) -> None:
        """``tenants`` gives each tenant's own age limit (without it, every line has the policy's)."""
        self._store = store
        self._tenants = tenants
        self._blobs = blobs
        self._policy = policy
        self._clock = clock
        #: Lines removed and archive blobs written since start.
        self.removed = 0
        self.archived: list[str] = []

    async def enforce(self) -> int:
        """One round: remove (after archiving) what is over either limit; how many lines went."""
        policy, removed, now = self._policy, 0, self._clock()
        own_days = await self._own_days()
        for tenant, days in own_days.items():
            while lines := await self._store.older_than(now - days * _DAY_MS, policy.batch, tenant=tenant):
                removed += await self._retire(lines)
        cutoff = now - int(policy.max_age_days * _DAY_MS)
        while lines := await self._store.older_than(cutoff, policy.batch, other_than=own_days.keys()):
            removed += await self._retire(lines)
        while lines := await self._store.beyond(policy.max_lines, policy.batch):
            removed += await self._retire(lines)
        return removed

    async def _own_days(self) -> dict[str, int]:
        """The tenants that set their own age limit, with it."""
        if self._tenants is None:
            return {}
        return {tenant.id: tenant.logs_days for tenant in await self._tenants.list_tenants() if tenant.logs_days}

    async def _retire(self, lines: Sequence[StoredLine]) -> int:
        if self._policy.archive and self._blobs is not None:
            self.archived.extend(await archive(self._blobs, lines))
        await self._store.delete([line.id for line in lines])
        self.removed += len(lines)
        return len(lines)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._policy.interval_s)  # a periodic job: nothing to wait for but time
            try:
                removed = await self.enforce()
            except FieldhubError as exc:  # the store or the blob store away: the next round tries again
                log.warning("log retention failed, trying again in %.0f s: %s", self._policy.interval_s, exc.message)
                continue
            if removed:
                log.info("log retention archived and removed %d lines", removed)

"""Named leases in the store: the one holder of each, for a time, among every hub process on the store.

A lease is taken or renewed with a compare-and-set: it goes to ``holder`` only when it is free, expired or
already ``holder``'s, so two processes never both hold it. Times are epoch ms of the callers' clocks: processes
on several machines need clocks that agree (NTP) to well within a lease's life.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

#: The lease of the process that leads the hub (hub/leader.py): held whenever a hub runs on the store.
LEADER = "leader"


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds the lease ``name``, until when (epoch ms)."""

    name: str
    holder: str
    until: int


class LeaseStore(Protocol):
    """Leases. Implementations are async and safe to share between processes and tasks."""

    async def acquire(self, name: str, holder: str, now: int, until: int) -> bool:
        """Take or renew lease ``name`` for ``holder`` until ``until``, atomically with every other process.

        Returns whether ``holder`` holds it now: it was free, had expired by ``now`` or was ``holder``'s already;
        False (and nothing changes) while another holder's lease runs.
        """

    async def release(self, name: str, holder: str) -> bool:
        """Give lease ``name`` up if ``holder`` holds it (another may take it at once); whether it did.

        A released lease is :meth:`lapsed` until someone takes or forgets it.
        """

    async def holder(self, name: str, now: int) -> Lease | None:
        """The lease ``name`` if someone holds it at ``now``, else None."""

    async def lapsed(self, prefix: str, now: int) -> list[Lease]:
        """The leases whose name starts with ``prefix`` that nobody holds at ``now``: released or run out."""

    async def forget(self, name: str, holder: str) -> bool:
        """Remove lease ``name`` altogether if ``holder`` holds it (it is no longer :meth:`lapsed`); whether it did."""

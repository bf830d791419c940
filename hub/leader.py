"""Leader election among the hub processes on one store: the work that must run once runs where the lease is.

Every process that may lead campaigns for the lease ``leader`` (:class:`hub.store.leases.LeaseStore`): it tries
to take or renew it every ``renew_s`` for ``ttl_s``. The holder runs the duties (schedules, placement, alarm
timers, retention, notifications: whatever the composition root hands over) and stops them as soon as it cannot
be sure it still holds the lease: a renewal refused, failed, or not answered within ``renew_s``. With
``ttl_s > 2 * renew_s`` the duties stop before the lease can run out, so two processes never run them at once
(given clocks that agree, see :mod:`hub.store.leases`, and an event loop never stalled for a lease's life; a
schedule's start is also a compare-and-set in the store). A process that leaves cleanly releases the lease: a
successor takes it at its next try. One that dies holds it until it expires: a successor takes over within
``ttl_s + renew_s``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from hub.clock import now_ms
from hub.errors import StoreUnavailable
from hub.store.leases import LEADER, LeaseStore
from hub.tasks import Background

log = logging.getLogger(__name__)

LEASE = LEADER
#: Starts the duties of a term, pushing their clean-up onto the stack (closed when the term ends).
Duties = Callable[[AsyncExitStack], Awaitable[None]]


def holder_name(replica_id: str) -> str:
    """A process's name in the leases: its replica id may repeat (two processes started with the same settings)."""
    return f"{replica_id}-{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class LeasePolicy:
    """How long the lease runs (``ttl_s``) and how often it is renewed or tried for (``renew_s``)."""

    ttl_s: float = 10.0
    renew_s: float = 3.0

    def __post_init__(self) -> None:
        if not 0 < 2 * self.renew_s < self.ttl_s:
            raise ValueError(f"the lease's ttl_s ({self.ttl_s}) must exceed twice renew_s ({self.renew_s})")


class Leadership:
    """Campaigns for the lease while running (``async with``) and runs the duties while it holds it."""

    def __init__(
        self,
        leases: LeaseStore,
        holder: str,
        duties: Duties,
        policy: LeasePolicy | None = None,
        *,
        lease: str = LEASE,
        work: str = "the work done once per hub",
        clock: Callable[[], int] = now_ms,
    ) -> None:
        """``lease`` names the work led: ``leader`` for the hub's duties; another name elects separately.

        ``work`` says what the holder runs, in its log lines.
        """
        self._leases = leases
        self.holder = holder
        self.lease = lease
        self._work = work
        self._duties = duties
        self.policy = policy or LeasePolicy()
        self._clock = clock
        self._term: AsyncExitStack | None = None
        self._background = Background()

    @property
    def leading(self) -> bool:
        """Whether this process holds the lease and runs the duties now."""
        return self._term is not None

    async def __aenter__(self) -> Self:
        # The first try before returning: a process alone on its store leads from the moment it is up.
        started = time.monotonic()
        await self._round()
        await self._background.open()
        self._background.spawn(self._campaign(started), name="leader-lease")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._background.close()
        if self._term is not None:
            await self._step_down("leaving")
            await self._release()  # a successor takes over at its next try, not once the lease ran out

    async def _campaign(self, started: float) -> None:
        while True:
            await asyncio.sleep(max(0.0, started + self.policy.renew_s - time.monotonic()))
            started = time.monotonic()
            await self._round()

    async def _round(self) -> None:
        """Take or renew the lease, and take office or step down as the answer says."""
        if await self._hold():
            if self._term is None:
                await self._take_office()
        elif self._term is not None:
            await self._step_down("cannot be sure it holds the lease")

    async def _hold(self) -> bool:
        """Take or renew the lease; False unless the store said yes within ``renew_s``."""
        now = self._clock()
        try:
            async with asyncio.timeout(self.policy.renew_s):
                return await self._leases.acquire(self.lease, self.holder, now, now + int(self.policy.ttl_s * 1000))
        except TimeoutError:
            log.warning("the store did not answer the lease %r within %.1f s", self.lease, self.policy.renew_s)
        except StoreUnavailable as exc:  # away for a while, maybe: not leading meanwhile, trying on
            log.warning("taking the lease %r failed: %s", self.lease, exc.message)
        return False

    async def _take_office(self) -> None:
        term = AsyncExitStack()
        try:
            await self._duties(term)
        except Exception:
            log.exception("starting the leader's work failed; giving the lease up")
            await term.aclose()
            await self._release()
            return
        except BaseException:  # cancelled while starting: undo what started
            await term.aclose()
            raise
        self._term = term
        log.info("%s leads: runs %s (lease %r)", self.holder, self._work, self.lease)

    async def _step_down(self, why: str) -> None:
        term, self._term = self._term, None
        assert term is not None
        log.warning("%s no longer leads (%s): stopping %s", self.holder, why, self._work)
        await term.aclose()

    async def _release(self) -> None:
        try:
            await self._leases.release(self.lease, self.holder)
        except StoreUnavailable as exc:  # it runs out by itself
            log.warning("releasing the lease %r failed: %s", self.lease, exc.message)

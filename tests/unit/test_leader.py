"""Leadership on a lease store kept in memory: one leader, hand-over on release, stepping down in time."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import pytest

from hub.clock import now_ms
from hub.errors import StoreUnavailable
from hub.leader import LEASE, Leadership, LeasePolicy
from hub.store.leases import Lease

pytestmark = pytest.mark.timeout(10)

POLICY = LeasePolicy(ttl_s=0.5, renew_s=0.1)


@dataclass
class MemoryLeases:
    """The lease contract in memory, with the faults a store can show: refusing, or not answering."""

    held: dict[str, Lease] = field(default_factory=dict)
    failing: bool = False
    hanging: bool = False

    async def acquire(self, name: str, holder: str, now: int, until: int) -> bool:
        if self.failing:
            raise StoreUnavailable("the store is away")
        if self.hanging:
            await asyncio.Event().wait()
        lease = self.held.get(name)
        if lease is not None and lease.holder != holder and lease.until > now:
            return False
        self.held[name] = Lease(name, holder, until)
        return True

    async def release(self, name: str, holder: str) -> bool:
        lease = self.held.get(name)
        if lease is None or lease.holder != holder:
            return False
        del self.held[name]
        return True

    async def holder(self, name: str, now: int) -> Lease | None:
        lease = self.held.get(name)
        return lease if lease is not None and lease.until > now else None


class Duties:
    """Records each term: set while the duties run, cleared when their stack closes."""

    def __init__(self) -> None:
        self.running = asyncio.Event()
        self.stopped = asyncio.Event()
        self.terms = 0

    async def __call__(self, stack: AsyncExitStack) -> None:
        self.terms += 1
        self.running.set()
        self.stopped.clear()
        stack.callback(self._stop)

    def _stop(self) -> None:
        self.running.clear()
        self.stopped.set()


async def test_one_process_leads_and_a_clean_exit_hands_over_within_a_renewal() -> None:
    leases = MemoryLeases()
    first, second = Duties(), Duties()
    async with Leadership(leases, "b", second, POLICY) as follower:
        async with Leadership(leases, "a", first, POLICY) as leader:
            # ``b`` entered first and leads; ``a`` waits however long it tries.
            await asyncio.sleep(3 * POLICY.renew_s)  # time for several tries of ``a``: nothing to wait for
            assert follower.leading and not leader.leading and first.terms == 0
        async with Leadership(leases, "c", Duties(), POLICY) as third:
            assert not third.leading
    assert second.stopped.is_set() and leases.held == {}, "the leader's exit did not release the lease"


async def test_a_successor_takes_over_once_the_leader_left() -> None:
    leases = MemoryLeases()
    first, second = Duties(), Duties()
    leader = await Leadership(leases, "a", first, POLICY).__aenter__()
    async with Leadership(leases, "b", second, POLICY) as follower:
        assert leader.leading and not follower.leading
        await leader.__aexit__(None, None, None)
        async with asyncio.timeout(2 * POLICY.renew_s):
            await second.running.wait()
        assert follower.leading and first.stopped.is_set()


async def test_a_leader_whose_renewal_fails_steps_down_before_its_lease_ends() -> None:
    leases = MemoryLeases()
    duties = Duties()
    async with Leadership(leases, "a", duties, POLICY) as leader:
        assert leader.leading
        until = leases.held[LEASE].until
        leases.failing = True
        await duties.stopped.wait()
        assert now_ms() < until, "still leading when the lease ran out"
        assert not leader.leading
        leases.failing = False
        await duties.running.wait()  # back in office once the store answers
        assert duties.terms == 2


async def test_a_leader_whose_store_does_not_answer_steps_down_before_its_lease_ends() -> None:
    leases = MemoryLeases()
    duties = Duties()
    async with Leadership(leases, "a", duties, POLICY) as leader:
        until = leases.held[LEASE].until
        leases.hanging = True
        await duties.stopped.wait()
        assert now_ms() < until, "still leading when the lease ran out"
        assert not leader.leading


@pytest.mark.allow_logged_exceptions
async def test_duties_that_fail_to_start_give_the_lease_up() -> None:
    leases = MemoryLeases()

    async def broken(stack: AsyncExitStack) -> None:
        raise RuntimeError("cannot start")

    async with Leadership(leases, "a", broken, POLICY) as leader:
        assert not leader.leading
        assert leases.held == {}


def test_a_lease_renewed_too_rarely_to_stop_in_time_is_refused() -> None:
    with pytest.raises(ValueError, match="twice renew_s"):
        LeasePolicy(ttl_s=5.0, renew_s=3.0)

"""The lease store's contract (take, renew, expire, release; two connections racing): every backend passes it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hub.store.backend import Backend
from hub.store.factory import open_store
from hub.store.leases import Lease
from tests.contract.support import BACKENDS, T0

pytestmark = pytest.mark.timeout(60)

TTL = 10_000


async def test_a_free_lease_is_taken_and_renewed_by_its_holder(backend: Backend) -> None:
    leases = backend.leases
    assert await leases.holder("leader", T0) is None
    assert await leases.acquire("leader", "a", T0, T0 + TTL)
    assert await leases.holder("leader", T0 + 1) == Lease("leader", "a", T0 + TTL)
    assert await leases.acquire("leader", "a", T0 + 3000, T0 + 3000 + TTL)  # renewed, before it ran out
    assert await leases.holder("leader", T0 + TTL) == Lease("leader", "a", T0 + 3000 + TTL)


async def test_nobody_else_takes_a_running_lease_but_anyone_an_expired_one(backend: Backend) -> None:
    leases = backend.leases
    assert await leases.acquire("leader", "a", T0, T0 + TTL)
    assert not await leases.acquire("leader", "b", T0 + TTL - 1, T0 + 2 * TTL)
    assert await leases.holder("leader", T0 + TTL - 1) == Lease("leader", "a", T0 + TTL)
    # Expired at its end: a lease holds up to, not at, its ``until``.
    assert await leases.holder("leader", T0 + TTL) is None
    assert await leases.acquire("leader", "b", T0 + TTL, T0 + 2 * TTL)
    assert await leases.holder("leader", T0 + TTL) == Lease("leader", "b", T0 + 2 * TTL)
    # The former holder cannot renew what is now another's.
    assert not await leases.acquire("leader", "a", T0 + TTL + 1, T0 + 3 * TTL)


async def test_leases_of_other_names_are_independent(backend: Backend) -> None:
    assert await backend.leases.acquire("leader", "a", T0, T0 + TTL)
    assert await backend.leases.acquire("other", "b", T0, T0 + TTL)
    assert (await backend.leases.holder("other", T0)) == Lease("other", "b", T0 + TTL)


async def test_only_the_holder_releases_and_then_another_takes_it_at_once(backend: Backend) -> None:
    leases = backend.leases
    assert not await leases.release("leader", "a")  # nobody holds it
    assert await leases.acquire("leader", "a", T0, T0 + TTL)
    assert not await leases.release("leader", "b")
    assert await leases.holder("leader", T0) == Lease("leader", "a", T0 + TTL)
    assert await leases.release("leader", "a")
    assert await leases.holder("leader", T0) is None
    assert await leases.acquire("leader", "b", T0 + 1, T0 + 1 + TTL)


async def test_lapsed_lists_the_released_and_run_out_leases_of_a_prefix(backend: Backend) -> None:
    leases = backend.leases
    assert await leases.lapsed("session:", T0) == []
    assert await leases.acquire("session:a", "pa", T0, T0 + TTL)
    assert await leases.acquire("session:b", "pb", T0, T0 + 2 * TTL)
    assert await leases.acquire("session:c", "pc", T0, T0 + 2 * TTL)
    assert await leases.acquire("sessions", "x", T0, T0 + 1)  # not of the prefix, though it begins the same
    assert await leases.acquire("leader", "x", T0, T0 + 1)
    assert await leases.lapsed("session:", T0 + TTL - 1) == []
    assert await leases.release("session:c", "pc")
    assert await leases.lapsed("session:", T0 + TTL) == [
        Lease("session:a", "pa", T0 + TTL),
        Lease("session:c", "pc", 0),
    ]
    # Taken again (a process back under its name), it no longer lapsed.
    assert await leases.acquire("session:a", "pa2", T0 + TTL, T0 + 3 * TTL)
    assert await leases.lapsed("session:", T0 + TTL) == [Lease("session:c", "pc", 0)]


async def test_the_holder_forgets_a_lease_and_it_is_listed_no_more(backend: Backend) -> None:
    leases = backend.leases
    assert await leases.acquire("session:a", "pa", T0, T0 + TTL)
    assert not await leases.forget("session:a", "other")
    assert await leases.acquire("session:a", "adopter", T0 + TTL, T0 + 2 * TTL)  # run out: another takes it
    assert not await leases.forget("session:a", "pa")  # no longer pa's
    assert await leases.forget("session:a", "adopter")
    assert await leases.holder("session:a", T0 + TTL) is None
    assert await leases.lapsed("session:", T0 + 3 * TTL) == []
    assert not await leases.forget("session:a", "adopter")
    assert await leases.acquire("session:a", "pa", T0 + TTL, T0 + 2 * TTL)  # and is taken afresh


@pytest.mark.parametrize("name", sorted(BACKENDS))
async def test_two_connections_racing_for_a_lease_never_both_get_it(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Two hub processes on one store, each with several tasks, try to take one lease at the same instant."""
    url = BACKENDS[name](request, tmp_path)
    first, second = open_store(url), open_store(url)
    await first.database.open()
    await second.database.open()
    try:
        for round_ in range(20):
            now = T0 + round_ * TTL  # each round starts where the previous round's lease runs out
            tries = [(f"{side}-{i}", store) for i in range(4) for side, store in (("a", first), ("b", second))]
            won = await asyncio.gather(*(store.leases.acquire("leader", who, now, now + TTL) for who, store in tries))
            assert sum(won) == 1, f"round {round_}: {won}"
            winner = next(who for (who, _), took in zip(tries, won, strict=True) if took)
            assert await first.leases.holder("leader", now) == Lease("leader", winner, now + TTL)
    finally:
        await second.database.close()
        await first.database.close()

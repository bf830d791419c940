"""The sign-in guard store's contract (failures in a window, locks, clearing, trimming): every backend passes it."""

from __future__ import annotations

import asyncio

import pytest

from hub.store.backend import Backend
from tests.contract.support import T0

pytestmark = pytest.mark.timeout(30)

WINDOW = 60_000
COOLDOWN = 30_000


async def _fail(backend: Backend, key: str, at: int, limit: int = 3) -> int | None:
    return await backend.sign_ins.fail(key, at, window_ms=WINDOW, limit=limit, cooldown_ms=COOLDOWN)


async def test_the_limit_within_the_window_locks_the_key_for_the_cool_down(backend: Backend) -> None:
    assert [await _fail(backend, "user:alice", T0 + i) for i in range(2)] == [None, None]
    assert await backend.sign_ins.locked_until(["user:alice"], T0 + 2) is None
    assert await _fail(backend, "user:alice", T0 + 2) == T0 + 2 + COOLDOWN
    assert await backend.sign_ins.locked_until(["user:alice", "addr:192.0.2.1"], T0 + 3) == T0 + 2 + COOLDOWN
    assert await backend.sign_ins.locked_until(["user:bob"], T0 + 3) is None
    # Over once the cool-down passed, and counting starts afresh.
    assert await backend.sign_ins.locked_until(["user:alice"], T0 + 2 + COOLDOWN) is None
    assert await _fail(backend, "user:alice", T0 + 3 + COOLDOWN) is None


async def test_failures_older_than_the_window_do_not_count(backend: Backend) -> None:
    await _fail(backend, "user:alice", T0)
    await _fail(backend, "user:alice", T0 + 1)
    assert await _fail(backend, "user:alice", T0 + 1 + WINDOW) is None  # the first one left the window


async def test_clearing_forgets_failures_but_keeps_a_lock(backend: Backend) -> None:
    await _fail(backend, "user:alice", T0)
    await _fail(backend, "user:alice", T0 + 1)
    await backend.sign_ins.clear("user:alice")
    assert await _fail(backend, "user:alice", T0 + 2) is None
    until = await _fail(backend, "user:bob", T0, limit=1)
    await backend.sign_ins.clear("user:bob")
    assert await backend.sign_ins.locked_until(["user:bob"], T0 + 1) == until


async def test_concurrent_failures_lock_exactly_once(backend: Backend) -> None:
    results = await asyncio.gather(*(_fail(backend, "addr:192.0.2.9", T0, limit=5) for _ in range(5)))
    assert sum(r is not None for r in results) == 1


async def test_trim_removes_old_failures_and_ended_locks(backend: Backend) -> None:
    await _fail(backend, "user:alice", T0)
    await _fail(backend, "user:bob", T0, limit=1)
    assert await backend.sign_ins.trim(before=T0 + COOLDOWN + 1) == 2
    assert await backend.sign_ins.locked_until(["user:bob"], T0) is None

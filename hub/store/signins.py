"""The sign-in guard's store: recent failed sign-ins per key, and the keys locked out until a time.

A key is a username or a client address (the guard, :mod:`cloud.identity.guard`, names them). Every hub process
on the store shares them, so a lock-out holds whichever process a client reaches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class SignInStore(Protocol):
    """Failures and locks. Implementations are async and safe to share; times are epoch ms."""

    async def locked_until(self, keys: Sequence[str], now: int) -> int | None:
        """The latest end of a lock of any of ``keys`` still in force at ``now`` (None: none is locked)."""

    async def fail(self, key: str, now: int, *, window_ms: int, limit: int, cooldown_ms: int) -> int | None:
        """Count one failure of ``key`` at ``now``, atomically with every other process.

        When ``limit`` failures fell within ``window_ms`` up to ``now``, ``key`` is locked until ``now +
        cooldown_ms`` and its failures forgotten (after the cool-down it starts afresh); the lock's end is
        returned, else None.
        """

    async def clear(self, key: str) -> None:
        """Forget the failures of ``key`` (a successful sign-in); a lock in force stays."""

    async def trim(self, before: int) -> int:
        """Remove failures stamped before ``before`` and locks that ended before it; how many rows went."""

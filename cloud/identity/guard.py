"""Login protection: too many failed sign-ins for a username, or from a client address, lock it out a while.

After ``max_failures`` failures of one username within ``window_s`` (or ``max_failures_per_address`` from one
address), every sign-in for it gets :class:`hub.errors.TooManyAttempts` until ``cooldown_s`` passed, the right
password too; the answer is the same whether the user exists. Usernames are compared case-folded, so that case
variants (which a directory may treat as one user) share a count. The counts live in the store
(:class:`hub.store.signins.SignInStore`), shared by every hub process.

A success forgets the username's failures, not the address's: else signing in to one's own account between
guesses would reset an address's count.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from hub.clock import now_ms
from hub.errors import StoreUnavailable, TooManyAttempts
from hub.store.signins import SignInStore
from hub.tasks import Background

log = logging.getLogger(__name__)
#: How often failures and locks that no longer count are removed.
TRIM_S = 600.0


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    """The ``[login]`` settings."""

    max_failures: int = 10
    window_s: float = 300.0
    cooldown_s: float = 300.0
    max_failures_per_address: int = 50


def user_key(username: str) -> str:
    return "user:" + username.casefold()[:256]


def address_key(address: str) -> str:
    return "addr:" + address


class SignInGuard:
    """Checks and counts sign-ins; ``async with`` runs the trimming of old failures."""

    def __init__(self, store: SignInStore, policy: GuardPolicy) -> None:
        self._store = store
        self.policy = policy
        self._background = Background()

    async def __aenter__(self) -> Self:
        await self._background.open()
        self._background.spawn(self._trim(), name="sign-in-guard-trim")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._background.close()

    async def check(self, username: str, address: str | None) -> None:
        """:class:`TooManyAttempts` if the username or the address is locked out now."""
        now = now_ms()
        keys = [user_key(username)] + ([address_key(address)] if address else [])
        until = await self._store.locked_until(keys, now)
        if until is not None:
            raise TooManyAttempts(max(1, math.ceil((until - now) / 1000)))

    async def failed(self, username: str, address: str | None) -> None:
        """Count a failed sign-in (a wrong password or an unknown user, alike)."""
        now, p = now_ms(), self.policy
        window, cooldown = int(p.window_s * 1000), int(p.cooldown_s * 1000)
        limits = [(user_key(username), p.max_failures)]
        if address:
            limits.append((address_key(address), p.max_failures_per_address))
        for key, limit in limits:
            until = await self._store.fail(key, now, window_ms=window, limit=limit, cooldown_ms=cooldown)
            if until is not None:
                # The key names a username someone tried, or an address: no secret, and bounded in length.
                log.warning("sign-ins for %s locked for %.0fs after %d failures", key[:80], p.cooldown_s, limit)

    async def succeeded(self, username: str) -> None:
        """Forget the username's failures (it signed in)."""
        await self._store.clear(user_key(username))

    async def _trim(self) -> None:
        keep_ms = int(max(self.policy.window_s, self.policy.cooldown_s) * 1000)
        while True:
            try:
                await self._store.trim(now_ms() - keep_ms)
            except StoreUnavailable as exc:
                log.warning("trimming old sign-in failures failed, trying again later: %s", exc.message)
            await asyncio.sleep(TRIM_S)  # a periodic job: nothing to wait for but time

"""Waiting on conditions with a deadline (never a fixed sleep)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T | None]], *, within: float = 10.0, what: str = "condition") -> T:
    """Re-run ``check`` until it returns a truthy value; fail with ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}; last value {result!r}")
        await asyncio.sleep(0.02)


async def soon(condition: Callable[[], object], *, within: float = 10.0, what: str = "condition") -> None:
    """:func:`eventually` for a condition read at once (state that tasks on this event loop change)."""

    async def check() -> object:
        return condition()

    await eventually(check, within=within, what=what)


def wait_until(check: Callable[[], T], within: float = 10.0) -> T | None:
    """The blocking twin of :func:`eventually` for synchronous tests: ``check()``'s first truthy value, or None."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result or None
        time.sleep(0.02)  # polling a condition, bounded by the deadline

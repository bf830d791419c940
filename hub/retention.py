"""Keeping stored records for a time: one periodic job that removes what is older (events, audit, alarms)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from hub.clock import now_ms
from hub.errors import StoreUnavailable

_DAY_MS = 86_400_000


async def keep_for(
    days: float, interval_s: float, trim: Callable[[int], Awaitable[int]], what: str, log: logging.Logger
) -> None:
    """Every ``interval_s``, ``trim`` what is older than ``days`` (it gets the cut-off, epoch ms, and says how many
    it removed), until cancelled; a store that is away is tried again at the next turn."""
    while True:
        try:
            removed = await trim(now_ms() - int(days * _DAY_MS))
        except StoreUnavailable as exc:
            log.warning("%s retention failed, trying again later: %s", what, exc.message)
        else:
            if removed:
                log.info("%s retention removed %d", what, removed)
        await asyncio.sleep(interval_s)  # a periodic job: nothing to wait for but time

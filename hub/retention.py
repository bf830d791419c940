"""Keeping stored records for a time: periodic jobs that remove what is older (events, audit, alarms, and
telemetry by tenant)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from hub.clock import now_ms
from hub.errors import StoreUnavailable
from hub.store.registry import RegistryStore
from hub.store.telemetry import TelemetryStore

log = logging.getLogger(__name__)
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


@dataclass(frozen=True, slots=True)
class TelemetryRetention:
    """How long raw points and rollups are kept, in days; a tenant's own ``telemetry_days`` overrides ``raw_days``.

    ``raw_days`` ``None`` keeps raw points. Rollups of a span leave after ``rollup_days[span]`` but never before the
    raw points of their time may (the longest any tenant keeps them): an aggregate reads a whole span from its
    rollup, so a span whose points are still stored must keep its rollup.
    """

    raw_days: int | None
    rollup_days: Mapping[int, int]
    interval_s: float = 3600.0


class TelemetryTrim:
    """Enforces a :class:`TelemetryRetention` on the telemetry store, tenant by tenant; :meth:`run` until
    cancelled (the leader's work)."""

    def __init__(
        self,
        telemetry: TelemetryStore,
        registry: RegistryStore,
        policy: TelemetryRetention,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._telemetry = telemetry
        self._registry = registry
        self._policy = policy
        self._clock = clock

    async def enforce(self) -> tuple[int, int]:
        """One round: how many raw points and how many rollups went."""
        now, policy = self._clock(), self._policy
        points = 0
        longest_days: int | None = 0  # None: some tenant keeps its raw points
        for tenant in await self._registry.list_tenants():
            days = tenant.telemetry_days or policy.raw_days
            if days is None:
                longest_days = None
                continue
            points += await self._telemetry.drop_raw(tenant.id, now - days * _DAY_MS)
            longest_days = None if longest_days is None else max(longest_days, days)
        rollups = 0
        if longest_days is not None:
            for span, days in policy.rollup_days.items():
                rollups += await self._telemetry.drop_rollups(span, now - max(days, longest_days) * _DAY_MS)
        return points, rollups

    async def run(self) -> None:
        while True:
            try:
                points, rollups = await self.enforce()
            except StoreUnavailable as exc:
                log.warning("telemetry retention failed, trying again later: %s", exc.message)
            else:
                if points or rollups:
                    log.info("telemetry retention removed %d points and %d rollups", points, rollups)
            await asyncio.sleep(self._policy.interval_s)  # a periodic job: nothing to wait for but time

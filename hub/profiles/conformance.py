"""Whether a message fits its device's profile: ingest asks for every message, so the answer is kept in memory.

A device without a profile, or with a lenient one, always passes (a lenient misfit is counted as flagged); a
strict profile refuses a message with a key it does not declare, a value of another type or outside the key's
range. Which profile a device has, and what each profile says, is cached; a counter the store bumps on every
change to either (:meth:`hub.store.profiles.ProfileStore.changed`) is read every ``refresh_s`` and empties the
cache when it moved, so a change made through any hub process applies everywhere within that time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from contracts.errors import RejectReason
from contracts.profiles import KeySpec, Profile, ValueType
from contracts.telemetry import Reading, ReadingColumns, Value
from hub.errors import StoreUnavailable
from hub.metrics import Metrics
from hub.store.profiles import ProfileStore
from hub.store.registry import RegistryStore

log = logging.getLogger(__name__)
#: Devices whose profile is remembered; beyond it the cache starts over (it refills as messages come).
MAX_CACHED_DEVICES = 200_000


@dataclass(frozen=True, slots=True)
class _Checked:
    """A profile ready for checking: its keys and whether a misfit is refused."""

    keys: dict[str, KeySpec]
    strict: bool


def misfit(keys: dict[str, KeySpec], key: str, value: Value) -> RejectReason | None:
    """Why a reading of ``key`` with ``value`` does not fit a profile with ``keys`` (``None`` if it does)."""
    spec = keys.get(key)
    if spec is None:
        return RejectReason.UNDECLARED_KEY
    if spec.type is ValueType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return RejectReason.WRONG_TYPE
        if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
            return RejectReason.OUT_OF_RANGE
        return None
    wanted = bool if spec.type is ValueType.BOOLEAN else str
    return None if isinstance(value, wanted) else RejectReason.WRONG_TYPE


class ProfileCheck:
    """Checks messages against their device's profile; ``run`` keeps the cache fresh."""

    def __init__(
        self, profiles: ProfileStore, registry: RegistryStore, metrics: Metrics, *, refresh_s: float = 2.0
    ) -> None:
        self._profiles = profiles
        self._registry = registry
        self._metrics = metrics
        self._refresh_s = refresh_s
        self._device_profile: dict[str, str | None] = {}
        self._checked: dict[tuple[str, str], _Checked | None] = {}
        self._version: int | None = None

    async def check(self, device_id: str, tenant: str, readings: Sequence[Reading]) -> RejectReason | None:
        """Why the message must be refused (``None``: store it; a lenient misfit is counted as flagged)."""
        profile = await self._profile_of(device_id, tenant)
        if profile is None:
            return None
        keys = profile.keys
        columns = ReadingColumns.of(readings)
        for key, value in zip(columns.keys, columns.values, strict=True):
            reason = misfit(keys, key, value)
            if reason is not None:
                if profile.strict:
                    return reason
                self._metrics.flagged_by[reason].inc()
                return None  # one flag per message, like one refusal per message
        return None

    async def _profile_of(self, device_id: str, tenant: str) -> _Checked | None:
        try:
            profile_id = self._device_profile[device_id]
        except KeyError:
            device = await self._registry.get_device(device_id)
            profile_id = None if device is None else device.profile
            if len(self._device_profile) >= MAX_CACHED_DEVICES:
                self._device_profile.clear()
            self._device_profile[device_id] = profile_id
        if profile_id is None:
            return None
        try:
            return self._checked[(tenant, profile_id)]
        except KeyError:
            found = await self._profiles.get_profile(tenant, profile_id)
            checked = None if found is None else _ready(found)
            self._checked[(tenant, profile_id)] = checked
            return checked

    def forget(self) -> None:
        """Drop what is cached (a profile or a device's profile changed)."""
        self._device_profile.clear()
        self._checked.clear()

    async def run(self) -> None:
        """Empty the cache whenever the store says profiles changed, until cancelled."""
        while True:
            try:
                version = await self._profiles.changed()
            except StoreUnavailable as exc:
                log.warning("cannot tell whether profiles changed: %s", exc.message)
            else:
                if version != self._version:
                    if self._version is not None:
                        self.forget()
                    self._version = version
            await asyncio.sleep(self._refresh_s)  # a periodic look at the store: nothing to wait for but time


def _ready(profile: Profile) -> _Checked:
    return _Checked(dict(profile.keys), profile.strict)

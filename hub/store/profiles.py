"""The profile store: the tenants' device profiles (:class:`contracts.profiles.Profile`)."""

from __future__ import annotations

from typing import Protocol

from contracts.profiles import Profile


class ProfileStore(Protocol):
    """Profiles, keyed by tenant and id. Implementations are async and safe to share."""

    async def add_profile(self, profile: Profile) -> None:
        """Insert a profile; :class:`hub.errors.Conflict` if its tenant has one of that id."""

    async def get_profile(self, tenant: str, profile_id: str) -> Profile | None:
        """One profile of ``tenant`` or ``None``."""

    async def list_profiles(self, tenant: str | None) -> list[Profile]:
        """The profiles of ``tenant`` (None: of every tenant), by tenant and id."""

    async def put_profile(self, profile: Profile) -> bool:
        """Replace a stored profile (same tenant and id) whole; ``False`` if there is none."""

    async def delete_profile(self, tenant: str, profile_id: str) -> bool:
        """Remove a profile; ``False`` if there is none. The caller checks that nothing names it."""

    async def profile_users(self, tenant: str, profile_id: str) -> tuple[int, int]:
        """How many devices and how many rules of ``tenant`` name the profile."""

    async def changed(self) -> int:
        """A number that changes whenever a profile, or a device's profile, changes (caches compare it)."""

"""The tenants' device profiles: create, read, change and remove them (the API's and the CLI's way in)."""

from __future__ import annotations

import secrets

from contracts.profiles import Profile, ProfileCreate, ProfilePatch
from hub.clock import now_ms
from hub.errors import Conflict, InvalidInput, NotFound
from hub.store.profiles import ProfileStore

#: Profiles a tenant may keep.
MAX_PROFILES_PER_TENANT = 500


class Profiles:
    """Profiles of every tenant in the store; every call names the tenant it acts in."""

    def __init__(self, store: ProfileStore) -> None:
        self._store = store

    async def create(self, tenant: str, body: ProfileCreate) -> Profile:
        """A new profile. Raises Conflict (the id is taken in the tenant), InvalidInput (the tenant has too many)."""
        if len(await self._store.list_profiles(tenant)) >= MAX_PROFILES_PER_TENANT:
            raise InvalidInput(f"a tenant has at most {MAX_PROFILES_PER_TENANT} profiles; remove one first")
        now = now_ms()
        profile = Profile(
            id=body.id or f"p-{secrets.token_hex(6)}",
            tenant=tenant,
            name=body.name,
            description=body.description,
            keys=body.keys,
            labels=body.labels,
            strict=body.strict,
            created=now,
            updated=now,
        )
        await self._store.add_profile(profile)
        return profile

    async def get(self, tenant: str, profile_id: str) -> Profile:
        found = await self._store.get_profile(tenant, profile_id)
        if found is None:
            raise NotFound("profile", profile_id)
        return found

    async def list(self, tenant: str | None) -> list[Profile]:
        return await self._store.list_profiles(tenant)

    async def update(self, tenant: str, profile_id: str, patch: ProfilePatch) -> Profile:
        """The profile with the fields of ``patch`` replaced. Raises NotFound."""
        profile = await self.get(tenant, profile_id)
        changed = profile.model_copy(update={**patch.model_dump(exclude_unset=True), "updated": now_ms()})
        changed = Profile.model_validate(changed.model_dump())
        if not await self._store.put_profile(changed):
            raise NotFound("profile", profile_id)
        return changed

    async def delete(self, tenant: str, profile_id: str) -> None:
        """Remove a profile nothing names. Raises NotFound, Conflict (devices or rules name it)."""
        await self.get(tenant, profile_id)
        devices, rules = await self._store.profile_users(tenant, profile_id)
        if devices or rules:
            raise Conflict(
                f"profile {profile_id} is named by {devices} device(s) and {rules} rule(s); change them first"
            )
        if not await self._store.delete_profile(tenant, profile_id):
            raise NotFound("profile", profile_id)

"""Device profiles of the MongoDB store (:class:`hub.store.profiles.ProfileStore`).

A profile is one document of ``profiles``: ``_id`` is ``tenant/id`` (:func:`hub.store.mongo.alarms.key`), so a
tenant's ids are unique; ``tenant`` and ``id`` beside it serve the listing (index ``profiles_by_tenant``). The
profile itself is kept as JSON text in ``doc``, as the SQLite store keeps it: its keys and labels are maps whose
keys may hold a ``.``, which FerretDB refuses in a field name. ``profile_users`` counts with the registry's
``devices_by_profile`` and ``rules_by_profile``. Every change bumps the ``profiles`` counter
(hub/store/mongo/versions.py); the registry bumps it when a device's profile changes.
"""

from __future__ import annotations

from contracts.profiles import Profile
from hub.store.mongo.alarms import RULES, key
from hub.store.mongo.database import MongoDatabase, translated
from hub.store.mongo.versions import bump_version, store_version

PROFILES = "profiles"
#: The registry's collection (hub/store/mongo/registry.py): each device's ``tenant`` and ``profile`` fields.
_DEVICES = "devices"


class MongoProfiles:
    """Profiles in ``profiles``."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    async def add_profile(self, profile: Profile) -> None:
        document = {"_id": key(profile.tenant, profile.id), "tenant": profile.tenant, "id": profile.id}
        async with translated("profile", profile.id):
            await self._db.collection(PROFILES).insert_one(document | {"doc": profile.model_dump_json()})
        await bump_version(self._db, PROFILES)

    async def get_profile(self, tenant: str, profile_id: str) -> Profile | None:
        async with translated():
            found = await self._db.collection(PROFILES).find_one({"_id": key(tenant, profile_id)})
        return None if found is None else Profile.model_validate_json(found["doc"])

    async def list_profiles(self, tenant: str | None) -> list[Profile]:
        where = {} if tenant is None else {"tenant": tenant}
        async with translated():
            found = await self._db.collection(PROFILES).find(where).sort([("tenant", 1), ("id", 1)]).to_list()
        return [Profile.model_validate_json(document["doc"]) for document in found]

    async def put_profile(self, profile: Profile) -> bool:
        async with translated():
            result = await self._db.collection(PROFILES).update_one(
                {"_id": key(profile.tenant, profile.id)}, {"$set": {"doc": profile.model_dump_json()}}
            )
        if result.matched_count:
            await bump_version(self._db, PROFILES)
        return result.matched_count > 0

    async def delete_profile(self, tenant: str, profile_id: str) -> bool:
        async with translated():
            result = await self._db.collection(PROFILES).delete_one({"_id": key(tenant, profile_id)})
        if result.deleted_count:
            await bump_version(self._db, PROFILES)
        return result.deleted_count > 0

    async def profile_users(self, tenant: str, profile_id: str) -> tuple[int, int]:
        where = {"tenant": tenant, "profile": profile_id}
        async with translated():
            devices = await self._db.collection(_DEVICES).count_documents(where)
            rules = await self._db.collection(RULES).count_documents(where)
        return devices, rules

    async def changed(self) -> int:
        return await store_version(self._db, PROFILES)

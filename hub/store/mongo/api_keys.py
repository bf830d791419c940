"""API keys of the MongoDB store (:class:`hub.store.api_keys.ApiKeyStore`).

``api_keys``: ``_id`` is the key id, the rest the fields of :class:`ApiKeyRecord` (a salted digest, never the
secret). A key is checked with its creator in two lookups by ``_id`` (the key, then its user in ``users``).
"""

from __future__ import annotations

import dataclasses

from hub.store.api_keys import ApiKeyRecord, ApiKeyStatus
from hub.store.mongo.database import Document, MongoDatabase, translated
from hub.store.mongo.identity import API_KEYS, USERS, user_record

_FIELDS = tuple(field.name for field in dataclasses.fields(ApiKeyRecord) if field.name != "id")
# Newest first, then by id: api_keys_by_tenant and api_keys_by_creator hold the keys in this order.
_ORDER = [("created", -1), ("_id", 1)]


def _key(doc: Document) -> ApiKeyRecord:
    return ApiKeyRecord(id=doc["_id"], **{name: doc[name] for name in _FIELDS})


class MongoApiKeys:
    """API keys in ``api_keys``, checked against their creators in ``users``."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    async def create_api_key(self, key: ApiKeyRecord) -> None:
        doc = dataclasses.asdict(key)
        doc["_id"] = doc.pop("id")
        async with translated("api key", key.id):
            await self._db.collection(API_KEYS).insert_one(doc)

    async def api_key_status(self, key_id: str) -> ApiKeyStatus | None:
        async with translated():
            found = await self._db.collection(API_KEYS).find_one({"_id": key_id})
            if found is None:
                return None
            creator = await self._db.collection(USERS).find_one({"_id": found["creator"]})
        return None if creator is None else ApiKeyStatus(_key(found), user_record(creator))

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        async with translated():
            found = await self._db.collection(API_KEYS).find_one({"_id": key_id})
        return None if found is None else _key(found)

    async def list_api_keys(self, *, tenant: str | None = None, creator: str | None = None) -> list[ApiKeyRecord]:
        where = {name: value for name, value in (("tenant", tenant), ("creator", creator)) if value is not None}
        async with translated():
            docs = await self._db.collection(API_KEYS).find(where).sort(_ORDER).to_list()
        return [_key(doc) for doc in docs]

    async def delete_api_key(self, key_id: str) -> bool:
        async with translated():
            return (await self._db.collection(API_KEYS).delete_one({"_id": key_id})).deleted_count == 1

    async def touch_api_key(self, key_id: str, used: int, *, unless_since: int) -> None:
        async with translated():
            await self._db.collection(API_KEYS).update_one(
                # ``None`` matches a key never used (``last_used`` null).
                {"_id": key_id, "$or": [{"last_used": None}, {"last_used": {"$lt": unless_since}}]},
                {"$set": {"last_used": used}},
            )

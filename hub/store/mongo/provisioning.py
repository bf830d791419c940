"""Enrollment tokens of the MongoDB store (:class:`hub.store.provisioning.ProvisioningStore`).

``provisioning_tokens``: ``_id`` is the token id, the rest the fields of :class:`ProvisioningTokenRecord` (a hash
of the secret, never the secret), its labels as ``key=value`` strings (hub/store/mongo/labels.py).
"""

from __future__ import annotations

import dataclasses

from hub.store.mongo.database import Document, MongoDatabase, translated
from hub.store.mongo.labels import from_pairs, to_pairs
from hub.store.mongo.tenants import insert_in_tenant
from hub.store.provisioning import ProvisioningTokenRecord

TOKENS = "provisioning_tokens"
_FIELDS = tuple(field.name for field in dataclasses.fields(ProvisioningTokenRecord) if field.name != "id")


def _token(doc: Document) -> ProvisioningTokenRecord:
    fields = {name: doc[name] for name in _FIELDS} | {"labels": from_pairs(doc["labels"])}
    return ProvisioningTokenRecord(id=doc["_id"], **fields)


class MongoProvisioning:
    """Enrollment tokens in ``provisioning_tokens``."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    async def create_token(self, token: ProvisioningTokenRecord) -> None:
        doc = dataclasses.asdict(token)
        doc |= {"_id": doc.pop("id"), "labels": to_pairs(token.labels)}
        await insert_in_tenant(self._db, TOKENS, doc, "provisioning token")

    async def get_token(self, token_id: str) -> ProvisioningTokenRecord | None:
        async with translated():
            doc = await self._db.collection(TOKENS).find_one({"_id": token_id})
        return None if doc is None else _token(doc)

    async def list_tokens(self, tenant: str | None) -> list[ProvisioningTokenRecord]:
        where = {} if tenant is None else {"tenant": tenant}
        async with translated():  # provisioning_tokens_by_tenant: newest first, then by id
            docs = await self._db.collection(TOKENS).find(where).sort([("created", -1), ("_id", 1)]).to_list()
        return [_token(doc) for doc in docs]

    async def use_token(self, token_id: str, now: int) -> bool:
        # One conditional update: on MongoDB, of two processes taking the last use one matches and the other does
        # not. FerretDB applies an update as a read and a write, so there both may match (a test server only).
        async with translated():
            result = await self._db.collection(TOKENS).update_one(
                {"_id": token_id, "uses_left": {"$gt": 0}, "expires": {"$gt": now}}, {"$inc": {"uses_left": -1}}
            )
        return result.modified_count == 1

    async def delete_token(self, token_id: str) -> bool:
        async with translated():
            return (await self._db.collection(TOKENS).delete_one({"_id": token_id})).deleted_count == 1

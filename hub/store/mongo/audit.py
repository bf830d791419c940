"""The audit trail of the MongoDB store (:class:`hub.store.audit.AuditStore`).

Records are documents of ``audit``, their ``_id`` claimed by inserting them (hub/store/mongo/sequence.py): ids
rise in store order whichever hub process wrote, and retention retires the ids it removes, so none is given
twice. The indexes each filter uses are in hub/store/mongo/schema.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from pymongo import DESCENDING

from contracts.audit import Actor, ActorKind, AuditRecord
from hub.store.audit import AuditQuery, NewAuditRecord
from hub.store.mongo.database import Document, MongoDatabase, translated
from hub.store.mongo.filters import equal, family, time_range
from hub.store.mongo.sequence import delete_numbered, insert_numbered

AUDIT = "audit"


def audit_document(r: NewAuditRecord) -> Document:
    """The stored form of ``r`` but its ``_id`` (also what ``fieldhub store migrate`` writes)."""
    return {
        "ts": r.ts,
        "actor_kind": None if r.actor is None else r.actor.kind.value,
        "actor_id": None if r.actor is None else r.actor.id,
        "action": r.action,
        "target": r.target,
        "tenant": r.tenant,
        "address": r.address,
        "outcome": r.outcome,
        "status": r.status,
        "detail": orjson.dumps(r.detail).decode(),  # JSON text: BSON refuses keys with "." or a leading "$"
    }


def _record(doc: Document) -> AuditRecord:
    kind = doc["actor_kind"]
    return AuditRecord(
        id=doc["_id"],
        ts=doc["ts"],
        actor=None if kind is None else Actor(kind=ActorKind(kind), id=doc["actor_id"]),
        action=doc["action"],
        target=doc["target"],
        tenant=doc["tenant"],
        address=doc["address"],
        outcome=doc["outcome"],
        status=doc["status"],
        detail=orjson.loads(doc["detail"]),
    )


def _filter(query: AuditQuery) -> Document:
    found = equal(tenant=query.tenant, actor_id=query.actor, target=query.target)
    if query.action:
        found["action"] = family(query.action)
    if (ts := time_range(query.start, query.end)) is not None:
        found["ts"] = ts
    if query.before is not None:
        found["_id"] = {"$lt": query.before}
    return found


class MongoAudit:
    """The audit trail in ``audit``."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    async def append(self, records: Sequence[NewAuditRecord]) -> list[AuditRecord]:
        if not records:
            return []
        docs = [audit_document(r) for r in records]
        await insert_numbered(self._db, AUDIT, docs)
        return [_record(doc) for doc in docs]

    async def query(self, query: AuditQuery) -> list[AuditRecord]:
        cursor = self._db.collection(AUDIT).find(_filter(query)).sort("_id", DESCENDING).limit(query.limit)
        async with translated():
            return [_record(doc) for doc in await cursor.to_list()]

    async def trim(self, before: int) -> int:
        return await delete_numbered(self._db, AUDIT, {"ts": {"$lt": before}})

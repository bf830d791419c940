"""Events of the MongoDB store (:class:`hub.store.events.EventStore`).

Events are documents of ``events``, their ``_id`` claimed by inserting them (hub/store/mongo/sequence.py): ids
become visible in rising order whichever hub process wrote, so a live stream's poll (``after``) misses none, and
retention retires the ids it removes, so none is given twice. Webhook subscriptions are documents of
``webhooks`` (``_id`` the webhook's id), their counters added to in place by ``$inc``; consumers' cursors are
documents of ``event_cursors`` (``_id`` the consumer's name), read by ``_id`` only. The indexes each query uses
are in hub/store/mongo/schema.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from pymongo import ASCENDING, DESCENDING

from contracts.events import Event, EventKind
from hub.store.events import Attempt, EventQuery, NewEvent, Webhook
from hub.store.mongo.database import Document, MongoDatabase, translated
from hub.store.mongo.filters import equal, family, time_range
from hub.store.mongo.sequence import delete_numbered, insert_numbered, newest_id

EVENTS = "events"
WEBHOOKS = "webhooks"
CURSORS = "event_cursors"


def _event(doc: Document) -> Event:
    return Event(
        id=doc["_id"],
        ts=doc["ts"],
        tenant=doc["tenant"],
        kind=EventKind(doc["kind"]),
        deployment=doc["deployment"],
        node=doc["node"],
        message=doc["message"],
        data=orjson.loads(doc["data"]),
    )


def _webhook(doc: Document) -> Webhook:
    return Webhook(
        id=doc["_id"],
        tenant=doc["tenant"],
        url=doc["url"],
        kinds=tuple(doc["kinds"]),
        secret=doc["secret"],
        created=doc["created"],
        delivered=doc["delivered"],
        failed_attempts=doc["failed_attempts"],
        dropped=doc["dropped"],
        last_attempt=doc["last_attempt"],
        last_status=doc["last_status"],
        last_error=doc["last_error"],
        last_delivered=doc["last_delivered"],
    )


def event_document(e: NewEvent) -> Document:
    """The stored form of ``e`` but its ``_id`` (also what ``fieldhub store migrate`` writes)."""
    return {
        "ts": e.ts,
        "tenant": e.tenant,
        "kind": str(e.kind),
        "deployment": e.deployment,
        "node": e.node,
        "message": e.message,
        # JSON text, as the hub gives it: BSON refuses keys with "." or a leading "$" (FerretDB anywhere).
        "data": orjson.dumps(e.data or {}).decode(),
    }


def _filter(query: EventQuery) -> Document:
    found = equal(tenant=query.tenant, deployment=query.deployment, node=query.node)
    if query.kind:
        found["kind"] = family(query.kind)
    if (ts := time_range(query.start, query.end)) is not None:
        found["ts"] = ts
    return found


class MongoEvents:
    """Events in ``events``, webhook subscriptions in ``webhooks``, consumers' cursors in ``event_cursors``."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    async def append(self, events: Sequence[NewEvent]) -> list[Event]:
        if not events:
            return []
        docs = [event_document(e) for e in events]
        await insert_numbered(self._db, EVENTS, docs)
        return [_event(doc) for doc in docs]

    async def query(self, query: EventQuery) -> list[Event]:
        found = _filter(query)
        order = DESCENDING
        if query.after is not None:
            found["_id"] = {"$gt": query.after}
            order = ASCENDING
        cursor = self._db.collection(EVENTS).find(found).sort("_id", order).limit(query.limit)
        async with translated():
            docs = await cursor.to_list()
        return [_event(doc) for doc in docs]

    async def last_id(self) -> int:
        return await newest_id(self._db, EVENTS)

    async def trim(self, before: int, keep: int) -> int:
        events = self._db.collection(EVENTS)
        removed = await delete_numbered(self._db, EVENTS, {"ts": {"$lt": before}})
        async with translated():
            tenants = await events.distinct("tenant")
        for tenant in tenants:
            # The newest ``keep`` of a tenant end at its keep-th id from the top; everything from the next goes.
            cursor = events.find({"tenant": tenant}, {"_id": 1}).sort("_id", DESCENDING).skip(keep).limit(1)
            async with translated():
                cut = await cursor.to_list()
            if cut:
                removed += await delete_numbered(self._db, EVENTS, {"tenant": tenant, "_id": {"$lte": cut[0]["_id"]}})
        return removed

    async def add_webhook(self, webhook: Webhook) -> None:
        doc: dict[str, Any] = {
            "_id": webhook.id,
            "tenant": webhook.tenant,
            "url": webhook.url,
            "kinds": list(webhook.kinds),
            "secret": webhook.secret,
            "created": webhook.created,
            "delivered": 0,
            "failed_attempts": 0,
            "dropped": 0,
            "last_attempt": None,
            "last_status": None,
            "last_error": None,
            "last_delivered": None,
        }
        async with translated("webhook", webhook.id):
            await self._db.collection(WEBHOOKS).insert_one(doc)

    async def webhooks(self, tenant: str | None) -> list[Webhook]:
        cursor = (
            self._db.collection(WEBHOOKS).find(equal(tenant=tenant)).sort([("created", ASCENDING), ("_id", ASCENDING)])
        )
        async with translated():
            return [_webhook(doc) for doc in await cursor.to_list()]

    async def delete_webhook(self, webhook_id: str, tenant: str | None) -> bool:
        async with translated():
            removed = await self._db.collection(WEBHOOKS).delete_one({"_id": webhook_id, **equal(tenant=tenant)})
        return removed.deleted_count > 0

    async def count_attempt(self, webhook_id: str, attempt: Attempt) -> None:
        if attempt.delivered:
            change: Document = {
                "$inc": {"delivered": 1},
                "$set": {
                    "last_attempt": attempt.ts,
                    "last_status": attempt.status,
                    "last_error": None,
                    "last_delivered": attempt.ts,
                },
            }
        else:
            change = {
                "$inc": {"failed_attempts": int(attempt.tried), "dropped": int(attempt.dropped)},
                "$set": {"last_attempt": attempt.ts, "last_status": attempt.status, "last_error": attempt.error},
            }
        async with translated():
            await self._db.collection(WEBHOOKS).update_one({"_id": webhook_id}, change)

    async def get_cursor(self, name: str) -> int | None:
        async with translated():
            found = await self._db.collection(CURSORS).find_one({"_id": name})
        return None if found is None else int(found["event"])

    async def set_cursor(self, name: str, event_id: int) -> None:
        # One writer per name (the leader's dispatcher), so a plain upsert needs no compare-and-set.
        async with translated():
            await self._db.collection(CURSORS).update_one({"_id": name}, {"$set": {"event": event_id}}, upsert=True)

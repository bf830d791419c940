"""Notification channels of the MongoDB store (:class:`hub.store.channels.ChannelStore`).

A channel is one document of ``channels``: ``_id`` is its id, its settings and ``secret`` beside it, and its
delivery counters in ``deliveries``, added to in place (``$inc``) so that the processes that send all count on
the same document (MongoDB applies each ``$inc`` atomically; FerretDB 1.24 may lose some of concurrent ones).
``channels_by_tenant`` serves a tenant's listing, oldest first.
"""

from __future__ import annotations

from contracts.channels import Channel, Deliveries
from hub.store.channels import ChannelRecord, Sent
from hub.store.mongo.database import Document, MongoDatabase, translated

CHANNELS = "channels"


def _record(document: Document) -> ChannelRecord:
    fields = {name: value for name, value in document.items() if name not in ("_id", "secret")}
    return ChannelRecord(Channel.model_validate(fields | {"id": document["_id"]}), document["secret"])


def _settings(record: ChannelRecord) -> Document:
    """The fields a put replaces: name, kind, target, enabled, rate_per_min, secret."""
    c = record.channel
    return {
        "name": c.name,
        "kind": c.kind.value,
        "target": c.target.model_dump(mode="json"),
        "enabled": c.enabled,
        "rate_per_min": c.rate_per_min,
        "secret": record.secret,
    }


def _count(sent: Sent) -> Document:
    """The counter update of one attempt (or of a notification not tried)."""
    if sent.suppressed:
        return {"$inc": {"deliveries.suppressed": 1}}
    if not sent.tried:  # dropped unsent: no attempt, so neither a failed one nor the last one
        return {"$inc": {"deliveries.dropped": int(sent.dropped)}}
    if sent.delivered:
        last = {"deliveries.last_attempt": sent.ts, "deliveries.last_error": None, "deliveries.last_delivered": sent.ts}
        return {"$inc": {"deliveries.delivered": 1}, "$set": last}
    return {
        "$inc": {"deliveries.failed_attempts": 1, "deliveries.dropped": int(sent.dropped)},
        "$set": {"deliveries.last_attempt": sent.ts, "deliveries.last_error": sent.error},
    }


def _one(channel_id: str, tenant: str | None) -> Document:
    return {"_id": channel_id} if tenant is None else {"_id": channel_id, "tenant": tenant}


class MongoChannels:
    """Channels in ``channels``."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    async def add_channel(self, record: ChannelRecord) -> None:
        c = record.channel
        document = {"_id": c.id, "tenant": c.tenant, "created": c.created} | _settings(record)
        async with translated("channel", c.id):
            await self._db.collection(CHANNELS).insert_one(document | {"deliveries": Deliveries().model_dump()})

    async def get_channel(self, channel_id: str, tenant: str | None) -> ChannelRecord | None:
        async with translated():
            found = await self._db.collection(CHANNELS).find_one(_one(channel_id, tenant))
        return None if found is None else _record(found)

    async def list_channels(self, tenant: str | None) -> list[ChannelRecord]:
        where = {} if tenant is None else {"tenant": tenant}
        async with translated():
            found = await self._db.collection(CHANNELS).find(where).sort([("created", 1), ("_id", 1)]).to_list()
        return [_record(document) for document in found]

    async def put_channel(self, record: ChannelRecord) -> bool:
        async with translated():
            result = await self._db.collection(CHANNELS).update_one(
                _one(record.channel.id, record.channel.tenant), {"$set": _settings(record)}
            )
        return result.matched_count > 0

    async def delete_channel(self, channel_id: str, tenant: str | None) -> bool:
        async with translated():
            result = await self._db.collection(CHANNELS).delete_one(_one(channel_id, tenant))
        return result.deleted_count > 0

    async def count_sent(self, channel_id: str, sent: Sent) -> None:
        async with translated():
            await self._db.collection(CHANNELS).update_one({"_id": channel_id}, _count(sent))

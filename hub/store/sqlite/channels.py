"""Channel statements of the SQLite store (:class:`hub.store.channels.ChannelStore`), schema version 13.

A channel is a row of ``channels``: its target as JSON, its delivery counters as columns added to in place (as
``webhooks``' are), so the processes that send all count on the same row. ``channels_by_tenant`` serves a
tenant's listing, oldest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from contracts.channels import Channel, Deliveries
from hub.store.channels import ChannelRecord, Sent
from hub.store.sqlite.database import SqliteDatabase
from hub.store.sqlite.where import Where

_COLUMNS = (
    "id, tenant, name, kind, target, enabled, rate_per_min, created, secret, delivered, failed_attempts, dropped,"
    " suppressed, last_attempt, last_error, last_delivered"
)


def _record(row: Sequence[Any]) -> ChannelRecord:
    ident, tenant, name, kind, target, enabled, rate_per_min, created, secret, *counters = row
    delivered, failed_attempts, dropped, suppressed, last_attempt, last_error, last_delivered = counters
    channel = Channel.model_validate(
        {
            "id": ident,
            "tenant": tenant,
            "name": name,
            "kind": kind,
            "target": orjson.loads(target),
            "enabled": bool(enabled),
            "rate_per_min": rate_per_min,
            "created": created,
            "deliveries": Deliveries(
                delivered=delivered,
                failed_attempts=failed_attempts,
                dropped=dropped,
                suppressed=suppressed,
                last_attempt=last_attempt,
                last_error=last_error,
                last_delivered=last_delivered,
            ),
        }
    )
    return ChannelRecord(channel, secret)


def _settings(record: ChannelRecord) -> tuple[Any, ...]:
    """The columns a put replaces: name, kind, target, enabled, rate_per_min, secret."""
    c = record.channel
    return (c.name, c.kind.value, c.target.model_dump_json(), int(c.enabled), c.rate_per_min, record.secret)


def _count(sent: Sent) -> tuple[str, tuple[Any, ...]]:
    """The counter update of one attempt (or of a notification not tried): its SET clause and arguments."""
    if sent.suppressed:
        return "suppressed = suppressed + 1", ()
    if not sent.tried:  # dropped unsent: no attempt, so neither a failed one nor the last one
        return "dropped = dropped + ?", (int(sent.dropped),)
    if sent.delivered:
        return "delivered = delivered + 1, last_attempt = ?, last_error = NULL, last_delivered = ?", (sent.ts, sent.ts)
    return (
        "failed_attempts = failed_attempts + 1, dropped = dropped + ?, last_attempt = ?, last_error = ?",
        (int(sent.dropped), sent.ts, sent.error),
    )


class SqliteChannels:
    """Channels in ``channels``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def add_channel(self, record: ChannelRecord) -> None:
        c = record.channel
        await self._db.insert(
            "INSERT INTO channels(id, tenant, created, name, kind, target, enabled, rate_per_min, secret)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (c.id, c.tenant, c.created, *_settings(record)),
            "channel",
        )

    async def get_channel(self, channel_id: str, tenant: str | None) -> ChannelRecord | None:
        where = Where().equals("id", channel_id).equals("tenant", tenant)
        sql = f"SELECT {_COLUMNS} FROM channels {where.sql}"  # noqa: S608 - constants only
        row = await self._db.readers.run(lambda c: c.execute(sql, where.args).fetchone())
        return None if row is None else _record(row)

    async def list_channels(self, tenant: str | None) -> list[ChannelRecord]:
        where = Where().equals("tenant", tenant)
        sql = f"SELECT {_COLUMNS} FROM channels {where.sql} ORDER BY created, id"  # noqa: S608 - constants only
        rows = await self._db.readers.run(lambda c: c.execute(sql, where.args).fetchall())
        return [_record(row) for row in rows]

    async def put_channel(self, record: ChannelRecord) -> bool:
        sql = (
            "UPDATE channels SET name = ?, kind = ?, target = ?, enabled = ?, rate_per_min = ?, secret = ?"
            " WHERE id = ? AND tenant = ?"
        )
        args = (*_settings(record), record.channel.id, record.channel.tenant)
        return await self._db.writer.run(lambda c: c.execute(sql, args).rowcount > 0)

    async def delete_channel(self, channel_id: str, tenant: str | None) -> bool:
        where = Where().equals("id", channel_id).equals("tenant", tenant)
        sql = f"DELETE FROM channels {where.sql}"  # noqa: S608 - constants only
        return await self._db.writer.run(lambda c: c.execute(sql, where.args).rowcount > 0)

    async def count_sent(self, channel_id: str, sent: Sent) -> None:
        sets, args = _count(sent)
        sql = f"UPDATE channels SET {sets} WHERE id = ?"  # noqa: S608 - constant clauses
        await self._db.writer.run(lambda c: c.execute(sql, (*args, channel_id)))

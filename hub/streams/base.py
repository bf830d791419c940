"""The stream sink interface (used by the ingest pipeline) and the record every sink writes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import orjson

from contracts.streams import SCHEMA_VERSION
from contracts.telemetry import Reading, ReadingColumns, Value, device_seq
from hub.store.telemetry import Message


class StreamSink(Protocol):
    """A stream that every stored message is forwarded to (see :mod:`hub.streams.forwarder`).

    ``name`` identifies the sink in logs, metrics and its outbox cursor, and holds no secret.
    """

    name: str

    async def open(self) -> None:
        """Connect; raise :class:`hub.errors.SinkUnavailable` if the stream cannot be reached (tried again)."""

    async def send(self, batch: Sequence[Message]) -> None:
        """Write every message of ``batch`` and wait for the stream's acknowledgements.

        Raises:
            SinkUnavailable: not every message was acknowledged; the whole batch is sent again.
        """

    async def send_alarm(self, tenant: str, device_id: str, body: bytes, record_id: str) -> None:
        """Write one alarm notification (JSON ``body``, unique ``record_id``) beside the tenant's telemetry.

        Raises:
            SinkUnavailable: the stream did not acknowledge it (the notification is tried again, same id).
        """

    async def send_audit(self, tenant: str | None, body: bytes, record_id: str) -> None:
        """Write one audit record (JSON ``body``, unique ``record_id``) to the hub's audit stream.

        ``tenant`` is None for what concerns the platform (a platform admin's sign-in, a new tenant).

        Raises:
            SinkUnavailable: the stream did not acknowledge it (the record is tried again, same id).
        """

    async def close(self) -> None:
        """Disconnect promptly, even from a stream that is down (what it did not take is sent again later)."""


def record(item: Message) -> bytes:
    """The versioned JSON record of one message (see :class:`contracts.streams.TelemetryRecord`)."""
    return orjson.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "tenant": item.tenant,
            "device_id": item.device_id,
            "received": item.received,
            "readings": [
                {"key": k, "ts": ts, "value": v, "seq": device_seq(seq)} for k, ts, v, seq in _rows(item.readings)
            ],
        }
    )


def _rows(readings: Sequence[Reading]) -> Iterable[tuple[str, int, Value, int | None]]:
    # Columns zipped directly: a Reading built per point only to be taken apart again cost a third more.
    if isinstance(readings, ReadingColumns):
        return zip(readings.keys, readings.stamps, readings.values, readings.seqs, strict=True)
    return readings


def headers(item: Message) -> dict[str, str]:
    return {"Fieldhub-Tenant": item.tenant, "Fieldhub-Device": item.device_id, "Fieldhub-Schema": str(SCHEMA_VERSION)}


def alarm_headers(tenant: str, device_id: str) -> dict[str, str]:
    """Headers of an alarm record (its schema is :class:`contracts.alarms.Notification`'s ``schema_version``)."""
    return {"Fieldhub-Tenant": tenant, "Fieldhub-Device": device_id, "Fieldhub-Record": "alarm"}


#: What an audit record without a tenant is filed under (no tenant id starts with an underscore).
PLATFORM = "_platform"


def audit_headers(tenant: str | None, record_id: str) -> dict[str, str]:
    """Headers of an audit record (its schema is :data:`contracts.audit.AUDIT_SCHEMA_VERSION`)."""
    return {"Fieldhub-Tenant": tenant or PLATFORM, "Fieldhub-Record": "audit", "Fieldhub-Audit-Id": record_id}


def public_name(url: str) -> str:
    """``url`` without credentials: how a sink is named in logs, metrics and its cursor."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, ""))

"""The stream sink interface (used by the ingest pipeline) and the record every sink writes."""

from __future__ import annotations

from typing import Protocol

import orjson

from contracts.streams import SCHEMA_VERSION
from hub.ingest.accepted import Accepted


class StreamSink(Protocol):
    """A stream every accepted message is written to, acknowledged before the device is."""

    name: str

    async def open(self) -> None:
        """Connect; raise :class:`hub.errors.SinkUnavailable` if the stream cannot be reached."""

    async def send(self, batch: list[Accepted]) -> None:
        """Write every message of ``batch`` and wait for the stream's acknowledgements."""

    async def close(self) -> None:
        """Disconnect."""


def record(item: Accepted) -> bytes:
    """The versioned JSON record of one message (see :class:`contracts.streams.TelemetryRecord`)."""
    return orjson.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "tenant": item.tenant,
            "device_id": item.device_id,
            "received": item.received,
            "readings": [{"key": r.key, "ts": r.ts, "value": r.value, "seq": r.seq} for r in item.readings],
        }
    )


def headers(item: Accepted) -> dict[str, str]:
    return {"Fieldhub-Tenant": item.tenant, "Fieldhub-Device": item.device_id, "Fieldhub-Schema": str(SCHEMA_VERSION)}

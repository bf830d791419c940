"""The stream sink interface (used by the ingest pipeline) and the record every sink writes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import orjson

from contracts.streams import SCHEMA_VERSION
from contracts.telemetry import Reading, ReadingColumns, Value
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
            "readings": [{"key": k, "ts": ts, "value": v, "seq": seq} for k, ts, v, seq in _rows(item.readings)],
        }
    )


def _rows(readings: Sequence[Reading]) -> Iterable[tuple[str, int, Value, int | None]]:
    # Columns zipped directly: a Reading built per point only to be taken apart again cost a third more.
    if isinstance(readings, ReadingColumns):
        return zip(readings.keys, readings.stamps, readings.values, readings.seqs, strict=True)
    return readings


def headers(item: Accepted) -> dict[str, str]:
    return {"Fieldhub-Tenant": item.tenant, "Fieldhub-Device": item.device_id, "Fieldhub-Schema": str(SCHEMA_VERSION)}

"""Outbox batches as bytes, the same in every store: one JSON array of the batch's messages.

A message is ``[device_id, tenant, received, 1, keys, stamps, values, seqs]`` when ingest holds its
readings as columns (batches), or ``[device_id, tenant, received, 0, [[key, ts, value, seq], ...]]``
when it holds a short list of readings: either way what ingest already has goes in as it is, with no
per-reading work on the write path (turning one-reading messages into columns cost 2.5 µs each).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from contracts.telemetry import Reading, ReadingColumns
from hub.store.telemetry import DeviceReadings, Message

_COLUMNS, _ROWS = 1, 0


def encode(batch: Sequence[Message]) -> bytes:
    rows: list[tuple[Any, ...]] = []
    for m in batch:
        r = m.readings
        if isinstance(r, ReadingColumns):
            rows.append((m.device_id, m.tenant, m.received, _COLUMNS, r.keys, r.stamps, r.values, r.seqs))
        else:
            rows.append((m.device_id, m.tenant, m.received, _ROWS, r))
    # Readings are named tuples, which orjson leaves to ``default``: as plain tuples they are arrays.
    return orjson.dumps(rows, default=tuple)


def decode(blob: bytes) -> list[Message]:
    messages: list[Message] = []
    for device_id, tenant, received, layout, *readings in orjson.loads(blob):
        if layout == _COLUMNS:
            keys, stamps, values, seqs = readings
            messages.append(DeviceReadings(device_id, tenant, received, ReadingColumns(keys, stamps, values, seqs)))
        else:
            messages.append(DeviceReadings(device_id, tenant, received, [Reading(*r) for r in readings[0]]))
    return messages

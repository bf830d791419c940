"""The record Fieldhub writes to northbound streams (NATS JetStream today, Kafka next), one per message.

Versioned: consumers check ``schema_version`` and the ``Fieldhub-Schema`` header; a new
version is added beside the old one, never changed in place.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from contracts.telemetry import Value

SCHEMA_VERSION: Literal[1] = 1


class StreamReading(BaseModel):
    key: str
    ts: int = Field(description="Epoch milliseconds")
    value: Value
    seq: int | None = None


class TelemetryRecord(BaseModel):
    """One accepted telemetry message, enriched with its tenant."""

    schema_version: Literal[1] = 1
    tenant: str
    device_id: str
    received: int = Field(description="Hub receive time, epoch milliseconds")
    readings: list[StreamReading]

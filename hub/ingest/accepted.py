"""A validated telemetry message on its way through ingest."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from contracts.errors import RejectReason
from contracts.telemetry import Reading


@dataclass(slots=True)
class Accepted:
    """One validated message, enriched with its tenant."""

    device_id: str
    tenant: str
    readings: Sequence[Reading]
    received: int
    #: Completed once the message is written (for senders that wait before acknowledging), with ``None``, or
    #: with the reason it was refused after all (a message the store fails on every time).
    written: asyncio.Future[RejectReason | None] | None = None

"""Keeps the latest heartbeat of every edge node (health, spool backlog, attached sensors)."""

from __future__ import annotations

import logging

from contracts.nodes import MAX_HEARTBEAT_BYTES, Heartbeat
from hub.broker.base import DeviceIdentity
from hub.ingest.pipeline import now_ms
from hub.logutil import RateLimitedLog
from hub.metrics import Metrics
from hub.store.base import StateKind, Store

log = logging.getLogger(__name__)


class NodeService:
    """Validates heartbeats and stores the latest per node (older ones are of no use)."""

    def __init__(self, store: Store, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics
        self._log = RateLimitedLog(log)

    async def heartbeat(self, identity: DeviceIdentity, payload: bytes) -> None:
        """Store a heartbeat, or count and log why it was refused."""
        try:
            beat = _parse(payload)
        except ValueError as exc:
            self._metrics.heartbeats_refused.inc()
            self._log.warning(
                f"hb:{identity.device_id}", "refused heartbeat of %s: %s", identity.device_id, str(exc)[:200]
            )
            return
        await self._store.put_state(identity.device_id, StateKind.HEARTBEAT, beat.model_dump(mode="json"), now_ms())

    async def latest(self, device_id: str) -> tuple[Heartbeat, int] | None:
        """The latest heartbeat and when the hub received it (epoch ms)."""
        record = await self._store.get_state(device_id, StateKind.HEARTBEAT)
        if record is None:
            return None
        return Heartbeat.model_validate(record.doc), record.updated


def _parse(payload: bytes) -> Heartbeat:
    """The heartbeat in ``payload``; ValueError (pydantic's ValidationError is one) says why not."""
    if len(payload) > MAX_HEARTBEAT_BYTES:
        raise ValueError(f"{len(payload)} bytes > {MAX_HEARTBEAT_BYTES}")
    return Heartbeat.model_validate_json(payload)

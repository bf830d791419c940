"""Keeps the latest heartbeat of every edge node (health, spool backlog, attached sensors) and hands the log
lines nodes ship to the log store (:mod:`hub.logs`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from prometheus_client import Counter
from pydantic import TypeAdapter, ValidationError

from contracts.errors import RejectReason
from contracts.nodes import MAX_HEARTBEAT_BYTES, MAX_LOG_BYTES, Heartbeat, LogLine
from contracts.topics import heartbeat_topic, logs_topic
from hub.broker.base import DeviceIdentity
from hub.clock import now_ms
from hub.logutil import RateLimitedLog
from hub.metrics import Metrics
from hub.store.nodes import NodeStore

log = logging.getLogger(__name__)
_LOG_LINES = TypeAdapter(list[LogLine])
#: Told of every stored heartbeat: ``(node id, tenant)``.
HeartbeatListener = Callable[[str, str], Awaitable[None]]
#: Told of every stored heartbeat with its figures, ``(node id, heartbeat)``; it must not block.
HeartbeatObserver = Callable[[str, Heartbeat], None]
#: Stores a node's valid log lines: ``(tenant, node id, lines)`` (:meth:`hub.logs.service.LogService.ingest`).
LogSink = Callable[[str, str, list[LogLine]], Awaitable[None]]


class NodeService:
    """Validates heartbeats and stores the latest per node (older ones are of no use)."""

    def __init__(self, store: NodeStore, metrics: Metrics, logs: LogSink) -> None:
        self._store = store
        self._logs = logs
        self._metrics = metrics
        self._log = RateLimitedLog(log)
        self._listeners: list[HeartbeatListener] = []
        self._observers: list[HeartbeatObserver] = []

    def add_listener(self, listener: HeartbeatListener) -> None:
        """Call ``listener`` after each stored heartbeat (e.g. to place pending deployments); keep it cheap."""
        self._listeners.append(listener)

    def add_observer(self, observer: HeartbeatObserver) -> None:
        """Hand every stored heartbeat to ``observer`` (the alarm rules on gateways' figures)."""
        self._observers.append(observer)

    async def heartbeat(self, identity: DeviceIdentity, payload: bytes) -> None:
        """Store a heartbeat, or count and log why it was refused."""
        try:
            beat = _parse(payload)
        except ValueError as exc:
            self._refuse(self._metrics.heartbeats_refused, "heartbeat", identity.device_id, heartbeat_topic, exc)
            return
        await self._store.put_heartbeat(identity.device_id, beat.model_dump(mode="json"), now_ms())
        for observer in self._observers:
            observer(identity.device_id, beat)
        for listener in self._listeners:
            try:
                await listener(identity.device_id, identity.tenant)
            except Exception:  # a listener's failure must not stop heartbeats from being kept
                log.exception("heartbeat listener failed for node %s", identity.device_id)

    async def logs(self, identity: DeviceIdentity, payload: bytes) -> None:
        """Store a node's log lines (one object or a list; its own and its apps'), or count and log why not."""
        try:
            lines = _parse_logs(payload)
        except ValueError as exc:
            self._refuse(self._metrics.node_logs_refused, "log lines", identity.device_id, logs_topic, exc)
            return
        await self._logs(identity.tenant, identity.device_id, lines)

    def _refuse(
        self, counter: Counter, what: str, device_id: str, topic: Callable[[str], str], exc: ValueError
    ) -> None:
        counter.inc()
        # Device id, topic and reason only: log lines and validation errors quote the payload, which can be sensitive.
        self._log.warning(
            f"{what}:{device_id}", "refused %s of %s on %s: %s", what, device_id, topic(device_id), _reason(exc)
        )

    async def latest(self, device_id: str) -> tuple[Heartbeat, int] | None:
        """The latest heartbeat and when the hub received it (epoch ms)."""
        record = await self._store.get_heartbeat(device_id)
        if record is None:
            return None
        return Heartbeat.model_validate(record.doc), record.received


class _TooLarge(ValueError):
    """A payload over its size limit."""


def _reason(exc: ValueError) -> RejectReason:
    """Why a payload was refused, in a word that quotes nothing of it."""
    if isinstance(exc, _TooLarge):
        return RejectReason.PAYLOAD_TOO_LARGE
    if isinstance(exc, orjson.JSONDecodeError):
        return RejectReason.MALFORMED_JSON
    if isinstance(exc, ValidationError) and any(error["type"] == "json_invalid" for error in exc.errors()):
        return RejectReason.MALFORMED_JSON
    return RejectReason.SCHEMA


def _parse_logs(payload: bytes) -> list[LogLine]:
    if len(payload) > MAX_LOG_BYTES:
        raise _TooLarge(f"{len(payload)} bytes > {MAX_LOG_BYTES}")
    doc = orjson.loads(payload)
    return _LOG_LINES.validate_python(doc if isinstance(doc, list) else [doc])


def _parse(payload: bytes) -> Heartbeat:
    """The heartbeat in ``payload``; ValueError (pydantic's ValidationError is one) says why not."""
    if len(payload) > MAX_HEARTBEAT_BYTES:
        raise _TooLarge(f"{len(payload)} bytes > {MAX_HEARTBEAT_BYTES}")
    return Heartbeat.model_validate_json(payload)

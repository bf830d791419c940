"""Counters and gauges of the hub, in one Prometheus registry built by the composition root.

Hot paths increment pre-bound children once per batch, never look labels up per message.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from contracts.errors import AuthRefusal, ConnectionDrop, RejectReason

#: The reasons a message does not fit its device's profile (refused by a strict one, flagged by a lenient one).
PROFILE_MISFITS = (RejectReason.UNDECLARED_KEY, RejectReason.WRONG_TYPE, RejectReason.OUT_OF_RANGE)
#: How a ``POST /api/v1/ingest/telemetry`` ended (a refused payload's reason is counted in ``rejected`` too).
HTTP_INGEST_OUTCOMES = ("stored", "refused", "unauthorized", "unsupported_media_type", "unavailable")


class Metrics:
    """Every metric Fieldhub exports, in a registry of its own (no global state)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.messages = Counter("fieldhub_ingest_messages", "Telemetry messages accepted by ingest", registry=r)
        self.points = Counter("fieldhub_ingest_points", "Data points accepted by ingest", registry=r)
        self.stored = Counter("fieldhub_store_points_written", "Points written to the store", registry=r)
        self.duplicates = Counter(
            "fieldhub_store_points_duplicate", "Points dropped by the store as redeliveries", registry=r
        )
        self.rejected = Counter(
            "fieldhub_ingest_rejected", "Messages refused by ingest, by reason", ["reason"], registry=r
        )
        self.rejected_by = {reason: self.rejected.labels(reason.value) for reason in RejectReason}
        self.flagged = Counter(
            "fieldhub_ingest_flagged",
            "Messages stored although they do not fit their device's (lenient) profile, by reason",
            ["reason"],
            registry=r,
        )
        self.flagged_by = {reason: self.flagged.labels(reason.value) for reason in PROFILE_MISFITS}
        self.alarm_transitions = Counter(
            "fieldhub_alarm_transitions", "Alarms raised, acknowledged and cleared, by state", ["state"], registry=r
        )
        self.alarm_batches_skipped = Counter(
            "fieldhub_alarm_batches_skipped",
            "Stored batches not evaluated by the alarm rules because evaluation fell too far behind",
            registry=r,
        )
        self.alarm_evaluation_seconds = Histogram(
            "fieldhub_alarm_evaluation_seconds",
            "Duration of evaluating the rules on one stored batch",
            registry=r,
            buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5),
        )
        self.auth_refused = Counter(
            "fieldhub_mqtt_refused",
            "Connections, publishes and subscriptions refused, by reason",
            ["reason"],
            registry=r,
        )
        self.auth_refused_by = {reason: self.auth_refused.labels(reason.value) for reason in AuthRefusal}
        self.qos0_dropped = Counter(
            "fieldhub_mqtt_qos0_dropped", "QoS 0 messages dropped because the hub was saturated", registry=r
        )
        self.connections = Counter("fieldhub_mqtt_connections", "Accepted device connections", registry=r)
        self.sessions_adopted = Counter(
            "fieldhub_mqtt_sessions_adopted",
            "Broker sessions of stopped hub processes this leader took over, emptied and unsubscribed",
            registry=r,
        )
        self.adopted_messages = Counter(
            "fieldhub_mqtt_adopted_messages",
            "Device messages handed on from the broker sessions of stopped hub processes",
            registry=r,
        )
        self.connections_open = Gauge(
            "fieldhub_mqtt_connections_open", "Connections to the embedded broker, admitted or not yet", registry=r
        )
        self.connections_dropped = Counter(
            "fieldhub_mqtt_connections_dropped",
            "Connections the embedded broker closed for a limit or a protocol violation, by reason",
            ["reason"],
            registry=r,
        )
        self.connections_dropped_by = {
            reason: self.connections_dropped.labels(reason.value) for reason in ConnectionDrop
        }
        self.online = Gauge("fieldhub_devices_online", "Devices connected to the broker now", registry=r)
        self.queue_depth = Gauge("fieldhub_ingest_queue_depth", "Messages waiting for the store", registry=r)
        self.write_seconds = Histogram(
            "fieldhub_store_write_seconds",
            "Duration of one batch write",
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self.live_dropped = Counter(
            "fieldhub_live_dropped", "Live-stream events dropped for slow subscribers", registry=r
        )
        self.commands = Counter("fieldhub_commands", "Commands sent, by outcome", ["outcome"], registry=r)
        self.heartbeats_refused = Counter(
            "fieldhub_heartbeats_refused", "Node heartbeats refused as invalid", registry=r
        )
        self.status_refused = Counter(
            "fieldhub_status_refused", "Device status messages refused as invalid", registry=r
        )
        self.app_reports_refused = Counter(
            "fieldhub_app_reports_refused", "Nodes' app instance reports refused as invalid", registry=r
        )
        self.node_logs_refused = Counter(
            "fieldhub_node_logs_refused", "Batches of node log lines refused as invalid", registry=r
        )
        self.stream_forwarded = Counter(
            "fieldhub_stream_forwarded_messages", "Messages a stream acknowledged, by sink", ["sink"], registry=r
        )
        self.stream_errors = Counter(
            "fieldhub_stream_errors", "Failed connects and sends to a stream, by sink", ["sink"], registry=r
        )
        self.stream_up = Gauge(
            "fieldhub_stream_up", "1 while the last attempt to a stream succeeded", ["sink"], registry=r
        )
        self.stream_lag_batches = Gauge(
            "fieldhub_stream_lag_batches", "Stored batches a stream has not taken yet", ["sink"], registry=r
        )
        self.stream_lag_seconds = Gauge(
            "fieldhub_stream_lag_seconds", "Age of the oldest stored batch a stream has not taken", ["sink"], registry=r
        )
        self.http_ingest = Counter(
            "fieldhub_http_ingest_requests", "HTTP ingest requests, by outcome", ["outcome"], registry=r
        )
        self.http_ingest_by = {outcome: self.http_ingest.labels(outcome) for outcome in HTTP_INGEST_OUTCOMES}
        self.api_errors = Counter("fieldhub_api_errors", "HTTP API error answers, by error code", ["code"], registry=r)
        self.app_tunnels_open = Gauge(
            "fieldhub_app_tunnels_open", "Nodes' app-link tunnels connected to this process", registry=r
        )

    def _by_reason(
        self, name: str, reasons: Iterable[RejectReason] | Iterable[AuthRefusal] | Iterable[ConnectionDrop]
    ) -> dict[str, int]:
        return {
            reason.value: int(self.registry.get_sample_value(name, {"reason": reason.value}) or 0) for reason in reasons
        }

    def rejections(self) -> dict[str, int]:
        """Ingest refusal counts by reason, for the API."""
        return self._by_reason("fieldhub_ingest_rejected_total", RejectReason)

    def flags(self) -> dict[str, int]:
        """Messages stored although they do not fit their device's lenient profile, by reason, for the API."""
        return self._by_reason("fieldhub_ingest_flagged_total", PROFILE_MISFITS)

    def refusals(self) -> dict[str, int]:
        """Broker refusal counts by reason, for the API."""
        return self._by_reason("fieldhub_mqtt_refused_total", AuthRefusal)

    def drops(self) -> dict[str, int]:
        """Connections closed by the embedded broker, by reason, for the API."""
        return self._by_reason("fieldhub_mqtt_connections_dropped_total", ConnectionDrop)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)

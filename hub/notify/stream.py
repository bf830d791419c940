"""Stream channels: the notification written to each of the hub's northbound streams (docs/streams.md).

Kafka: topic ``<the tenant's telemetry topic>.alarms``; NATS: subject ``fieldhub.<tenant>.alarms.<device>``.
With several streams, a failure in one sends again to all: consumers drop a repeat by the notification's id.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.alarms import Notification
from contracts.channels import Channel
from hub.errors import DeliveryFailed, SinkUnavailable
from hub.notify.base import notification_json
from hub.streams.base import StreamSink


class StreamSender:
    """Writes through the sinks the stream forwarders opened (a sink not open yet fails, and is tried again)."""

    def __init__(self, sinks: Sequence[StreamSink]) -> None:
        self._sinks = list(sinks)

    async def send(self, channel: Channel, secret: str | None, notification: Notification) -> None:
        if not self._sinks:
            raise DeliveryFailed("the hub has no stream configured")
        alarm = notification.alarm
        body = notification_json(notification)
        for sink in self._sinks:
            try:
                await sink.send_alarm(alarm.tenant, alarm.device, body, notification.id)
            except SinkUnavailable as exc:
                raise DeliveryFailed(f"stream {sink.name}: {exc.message}"[:300]) from None

"""MQTT channels: the notification published to ``devices/{device}/alarms`` of one of the tenant's devices.

QoS 1 and not retained: a device connected with a persistent session gets what came while it was away from the
broker, and a device that subscribes later is not told of an old alarm as if it were new.
"""

from __future__ import annotations

from contracts.alarms import Notification
from contracts.channels import Channel, MqttTarget
from contracts.topics import alarms_topic
from hub.broker.base import Publisher
from hub.errors import DeliveryFailed, FieldhubError
from hub.notify.base import notification_json


class MqttSender:
    """Publishes through the hub's downlink."""

    def __init__(self, downlink: Publisher) -> None:
        self._downlink = downlink

    async def send(self, channel: Channel, secret: str | None, notification: Notification) -> None:
        if not isinstance(channel.target, MqttTarget):
            raise DeliveryFailed(f"channel {channel.id} is no mqtt channel")
        topic = alarms_topic(channel.target.device)
        try:
            await self._downlink.publish(topic, notification_json(notification), qos=1, retain=False)
        except FieldhubError as exc:
            raise DeliveryFailed(f"publishing to {topic}: {exc.message}") from None
        except OSError as exc:
            raise DeliveryFailed(f"publishing to {topic}: {type(exc).__name__}: {exc}"[:300]) from None

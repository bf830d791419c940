"""What a channel kind's sender does: deliver one notification to one channel, or raise saying why not."""

from __future__ import annotations

from typing import Protocol

import orjson

from contracts.alarms import Notification
from contracts.channels import Channel


class Sender(Protocol):
    """Delivers to the channels of one kind; the dispatcher retries, rate-limits and counts."""

    async def send(self, channel: Channel, secret: str | None, notification: Notification) -> None:
        """Deliver ``notification`` to ``channel`` (``secret``: a webhook's signing secret).

        Raises:
            hub.errors.DeliveryFailed: not delivered; its message is short and never holds a secret.
        """


def notification_json(notification: Notification) -> bytes:
    """The JSON every channel kind but e-mail carries: the notification as :mod:`contracts.alarms` defines it."""
    return orjson.dumps(notification.model_dump(mode="json"))

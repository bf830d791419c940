"""Webhook channels: the notification as a JSON ``POST``, signed like event webhooks (docs/api.md)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import httpx

from contracts.alarms import Notification
from contracts.channels import Channel, WebhookTarget
from hub.errors import DeliveryFailed
from hub.events.posting import post_signed
from hub.notify.base import notification_json


class WebhookSender:
    """Posts through one HTTP client; ``async with`` opens and closes it."""

    def __init__(self, timeout_s: float = 10.0) -> None:
        self._timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Self:
        # No redirects: a signed body must reach the URL the tenant gave, not wherever it points.
        self._client = httpx.AsyncClient(timeout=self._timeout_s, follow_redirects=False)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def send(self, channel: Channel, secret: str | None, notification: Notification) -> None:
        if self._client is None:
            raise DeliveryFailed("webhook sender is not running")
        if not isinstance(channel.target, WebhookTarget) or secret is None:
            raise DeliveryFailed(f"channel {channel.id} is no webhook with a secret")
        headers = {
            "User-Agent": "Fieldhub-Notifications/1",
            "X-Fieldhub-Event": notification.kind,
            "X-Fieldhub-Notification": notification.id,
            "X-Fieldhub-Channel": channel.id,
        }
        posted = await post_signed(
            self._client, str(channel.target.url), secret, notification_json(notification), headers
        )
        if posted.error is not None:
            raise DeliveryFailed(posted.error)

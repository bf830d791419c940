"""The channel store: the tenants' notification channels and how sending to each has gone.

A webhook channel's secret is kept as given (the hub signs with it). Delivery counters belong to the channel,
so whichever process sends adds to the same ones. How far the notifications went is a cursor of the event store
(:data:`hub.store.events.NOTIFY_CURSOR`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from contracts.channels import Channel


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    """A stored channel: what the API shows, and the secret it does not (webhooks only)."""

    channel: Channel
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    """What one attempt at sending a notification came to: ``delivered``, else failed (``error`` says why).

    ``dropped`` when the notification is given up after its last attempt; ``suppressed`` when it was not tried
    at all, over the channel's rate limit. ``tried`` is False when it was dropped unsent, pushed out of the
    channel's full queue by a newer one: counted ``dropped``, but it is no failed attempt.
    """

    ts: int
    delivered: bool
    error: str | None = None
    dropped: bool = False
    suppressed: bool = False
    tried: bool = True


class ChannelStore(Protocol):
    """Channels. Implementations are async and safe to share."""

    async def add_channel(self, record: ChannelRecord) -> None:
        """Store a new channel (its ``id`` is new)."""

    async def get_channel(self, channel_id: str, tenant: str | None) -> ChannelRecord | None:
        """One channel if it belongs to ``tenant`` (None: to any)."""

    async def list_channels(self, tenant: str | None) -> list[ChannelRecord]:
        """The channels of ``tenant`` (None: every tenant's), oldest first."""

    async def put_channel(self, record: ChannelRecord) -> bool:
        """Replace a channel's settings (name, target, enabled, rate, secret), keeping its counters."""

    async def delete_channel(self, channel_id: str, tenant: str | None) -> bool:
        """Remove the channel if it belongs to ``tenant`` (None: to any); whether it did."""

    async def count_sent(self, channel_id: str, sent: Sent) -> None:
        """Count one attempt (or suppression) on its channel (nothing if the channel is gone)."""

"""The tenants' notification channels: made, listed, changed and removed, each checked against the hub.

A channel's target must be one this hub can send to: an ``mqtt`` channel names a device of the channel's own
tenant, an ``email`` channel needs the ``[smtp]`` settings and a ``stream`` channel a configured stream. A
webhook channel gets a secret that signs its deliveries, told once when it is made.
"""

from __future__ import annotations

import logging
import secrets

from contracts.channels import (
    Channel,
    ChannelCreate,
    ChannelCreated,
    ChannelKind,
    ChannelPatch,
    EmailTarget,
    MqttTarget,
    StreamTarget,
    Target,
)
from hub.clock import now_ms
from hub.errors import InvalidInput, NotFound
from hub.store.channels import ChannelRecord, ChannelStore
from hub.store.registry import RegistryStore

log = logging.getLogger(__name__)
MAX_CHANNELS_PER_TENANT = 50


class Channels:
    """Channels in the channel store, checked against the devices of the registry and what the hub can send."""

    def __init__(
        self,
        store: ChannelStore,
        registry: RegistryStore,
        *,
        email_available: bool,
        streams_available: bool,
        max_per_tenant: int = MAX_CHANNELS_PER_TENANT,
    ) -> None:
        """``email_available``: an SMTP server is configured; ``streams_available``: a stream is."""
        self._store = store
        self._registry = registry
        self._email = email_available
        self._streams = streams_available
        self._max = max_per_tenant

    async def create(self, tenant: str, body: ChannelCreate) -> ChannelCreated:
        """A new channel of ``tenant``; a webhook's comes with its secret (the only time it is told).

        Raises:
            InvalidInput: the tenant has its most channels, or the target is not one this hub can send to.
        """
        if len(await self._store.list_channels(tenant)) >= self._max:
            raise InvalidInput(f"a tenant has at most {self._max} channels; delete one first")
        await self._check_target(tenant, body.target)
        channel = Channel(
            id=f"ch-{secrets.token_hex(6)}",
            tenant=tenant,
            name=body.name,
            kind=body.target.kind,
            target=body.target,
            enabled=body.enabled,
            rate_per_min=body.rate_per_min,
            created=now_ms(),
        )
        secret = f"whsec_{secrets.token_urlsafe(32)}" if channel.kind is ChannelKind.WEBHOOK else None
        await self._store.add_channel(ChannelRecord(channel, secret))
        log.info("channel %s (%s) of tenant %s made", channel.id, channel.kind.value, tenant)
        return ChannelCreated(**dict(channel), secret=secret)

    async def list(self, tenant: str | None) -> list[Channel]:
        """The channels of ``tenant`` (None: of every tenant), oldest first, with their delivery counts."""
        return [record.channel for record in await self._store.list_channels(tenant)]

    async def get(self, channel_id: str, tenant: str | None) -> Channel:
        """Raises: NotFound: no such channel in ``tenant``."""
        return (await self._record(channel_id, tenant)).channel

    async def patch(self, channel_id: str, tenant: str | None, body: ChannelPatch) -> Channel:
        """Change the fields given; the kind stays (a new target must be of the same kind).

        Raises:
            NotFound: no such channel in ``tenant``.
            InvalidInput: the target is of another kind, or not one this hub can send to.
        """
        record = await self._record(channel_id, tenant)
        channel = record.channel
        changes = body.model_dump(exclude_unset=True, exclude={"target"})
        if body.target is not None:
            if body.target.kind != channel.kind:
                raise InvalidInput(f"a {channel.kind.value} channel stays one; make a new channel for another kind")
            await self._check_target(channel.tenant, body.target)
            changes["target"] = body.target
        updated = channel.model_copy(update={k: v for k, v in changes.items() if v is not None})
        if not await self._store.put_channel(ChannelRecord(updated, record.secret)):
            raise NotFound("channel", channel_id)
        return updated

    async def delete(self, channel_id: str, tenant: str | None) -> None:
        """Raises: NotFound: no such channel in ``tenant``."""
        if not await self._store.delete_channel(channel_id, tenant):
            raise NotFound("channel", channel_id)
        log.info("channel %s removed", channel_id)

    async def _record(self, channel_id: str, tenant: str | None) -> ChannelRecord:
        record = await self._store.get_channel(channel_id, tenant)
        if record is None:
            raise NotFound("channel", channel_id)
        return record

    async def _check_target(self, tenant: str, target: Target) -> None:
        if isinstance(target, EmailTarget) and not self._email:
            raise InvalidInput("this hub sends no e-mail: its [smtp] settings name no host")
        if isinstance(target, StreamTarget) and not self._streams:
            raise InvalidInput("this hub has no stream configured (the stream setting)")
        if isinstance(target, MqttTarget):
            device = await self._registry.get_device(target.device)
            # Another tenant's device is "not found" too: its existence is none of this tenant's business.
            if device is None or device.tenant != tenant:
                raise InvalidInput(f"no device {target.device!r} in tenant {tenant!r}")

"""Notification channels: where the alarms of a tenant's rules are told (docs/api.md#notification-channels).

Tenancy as for webhooks: a tenant's users act in their tenant, platform admins in any with ``?tenant=``;
another tenant's channel answers 404, as one that does not exist. Channel ids are unique in the hub, so a
platform admin names one without ``tenant``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel

from cloud.api.apps import TenantQuery, acting_tenant
from cloud.api.deps import PrincipalDep, ServicesDep, tenant_scope
from contracts.channels import Channel, ChannelCreate, ChannelCreated, ChannelPatch

router = APIRouter(prefix="/api/v1/channels", tags=["alarms"])

ChannelId = Annotated[str, Path(pattern=r"^ch-[0-9a-f]{12}$", description="Channel id")]


class ChannelList(BaseModel):
    items: list[Channel]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ChannelCreated)
async def create_channel(
    body: ChannelCreate, principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None
) -> ChannelCreated:
    """A new channel; a webhook's answer holds the signing ``secret``, told only this once."""
    return await services.channels.create(await acting_tenant(principal, tenant, services), body)


@router.get("", response_model=ChannelList)
async def list_channels(principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None) -> ChannelList:
    """The caller's tenant's channels (platform admins: of ``tenant``, else every tenant's) with their deliveries."""
    return ChannelList(items=await services.channels.list(tenant_scope(principal, tenant)))


@router.get("/{channel_id}", response_model=Channel)
async def get_channel(
    channel_id: ChannelId, principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None
) -> Channel:
    return await services.channels.get(channel_id, tenant_scope(principal, tenant))


@router.patch("/{channel_id}", response_model=Channel)
async def update_channel(
    channel_id: ChannelId,
    body: ChannelPatch,
    principal: PrincipalDep,
    services: ServicesDep,
    tenant: TenantQuery = None,
) -> Channel:
    """Change the fields given; a channel keeps its kind (a new ``target`` of another kind is 422)."""
    return await services.channels.patch(channel_id, tenant_scope(principal, tenant), body)


@router.delete("/{channel_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_channel(
    channel_id: ChannelId, principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None
) -> Response:
    """Remove a channel; 409 while a rule names it."""
    channel = await services.channels.get(channel_id, tenant_scope(principal, tenant))
    await services.rules.release_channel(channel.tenant, channel.id)
    await services.channels.delete(channel.id, channel.tenant)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

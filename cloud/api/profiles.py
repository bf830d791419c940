"""Device profiles: what a kind of device sends and the labels it starts with (docs/api.md#device-profiles).

Tenancy as for webhooks: a tenant's users act in their tenant, platform admins in any with ``?tenant=`` (one
profile's routes: ``default`` without it, as profile ids are unique per tenant only); another tenant's profile
answers 404, as one that does not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel

from cloud.api.apps import TenantQuery, acting_tenant
from cloud.api.deps import PrincipalDep, ServicesDep, target_tenant, tenant_scope
from contracts.ids import ID_PATTERN
from contracts.profiles import Profile, ProfileCreate, ProfilePatch

router = APIRouter(prefix="/api/v1/profiles", tags=["alarms"])

ProfileId = Annotated[str, Path(pattern=ID_PATTERN, description="Profile id")]


class ProfileList(BaseModel):
    items: list[Profile]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Profile)
async def create_profile(
    body: ProfileCreate, principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None
) -> Profile:
    """A new profile of the tenant; a taken id is 409."""
    return await services.profiles.create(await acting_tenant(principal, tenant, services), body)


@router.get("", response_model=ProfileList)
async def list_profiles(principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None) -> ProfileList:
    """The caller's tenant's profiles (platform admins: of ``tenant``, else every tenant's), by tenant and id."""
    return ProfileList(items=await services.profiles.list(tenant_scope(principal, tenant)))


@router.get("/{profile_id}", response_model=Profile)
async def get_profile(
    profile_id: ProfileId, principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None
) -> Profile:
    return await services.profiles.get(target_tenant(principal, tenant), profile_id)


@router.patch("/{profile_id}", response_model=Profile)
async def update_profile(
    profile_id: ProfileId,
    body: ProfilePatch,
    principal: PrincipalDep,
    services: ServicesDep,
    tenant: TenantQuery = None,
) -> Profile:
    """Replace the fields given (``keys`` and ``labels`` whole); devices created before keep their labels."""
    return await services.profiles.update(target_tenant(principal, tenant), profile_id, body)


@router.delete("/{profile_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_profile(
    profile_id: ProfileId, principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None
) -> Response:
    """Remove a profile; 409 while a device or a rule names it."""
    await services.profiles.delete(target_tenant(principal, tenant), profile_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

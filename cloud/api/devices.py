"""Device registry routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from cloud.api.deps import DeviceDep, PrincipalDep, ServicesDep, target_tenant
from cloud.api.params import Offset
from contracts.api import DevicePage
from contracts.devices import (
    Credentials,
    Device,
    DeviceBatchCreate,
    DeviceBatchCreated,
    DeviceCreate,
    DeviceKind,
    DevicePatch,
    DeviceStatus,
    DeviceWithCredentials,
)
from contracts.ids import ID_PATTERN
from hub.errors import InvalidInput, NotFound
from hub.store.registry import DeviceQuery

router = APIRouter(prefix="/api/v1/devices", tags=["devices"])
#: Longest text ``GET /devices?q=`` searches for.
MAX_SEARCH = 100


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DeviceWithCredentials)
async def create_device(body: DeviceCreate, principal: PrincipalDep, services: ServicesDep) -> DeviceWithCredentials:
    """Register a device. The password in ``credentials`` is shown only in this answer. A ``profile`` must be
    one of the tenant's (else 422); its labels are the device's unless the body gives them."""
    tenant = target_tenant(principal, body.tenant)
    if principal.tenant is None and await services.store.registry.get_tenant(tenant) is None:
        raise NotFound("tenant", tenant)
    return await services.registry.create_device(body, tenant)


@router.post("/batch", status_code=status.HTTP_201_CREATED, response_model=DeviceBatchCreated)
async def create_devices(body: DeviceBatchCreate, principal: PrincipalDep, services: ServicesDep) -> DeviceBatchCreated:
    """Register up to 500 devices at once, all or none (422 for an id given twice or a device naming a tenant:
    the batch names it once; 409 for a taken id). The passwords are shown only in this answer."""
    if any(spec.tenant is not None for spec in body.devices):
        raise InvalidInput("a batch names its tenant once, not per device")
    tenant = target_tenant(principal, body.tenant)
    if principal.tenant is None and await services.store.registry.get_tenant(tenant) is None:
        raise NotFound("tenant", tenant)
    return DeviceBatchCreated(devices=await services.registry.create_devices(body.devices, tenant))


@router.get("", response_model=DevicePage)
async def list_devices(
    *,
    principal: PrincipalDep,
    services: ServicesDep,
    tenant: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    label: Annotated[str | None, Query(description="key=value")] = None,
    status: DeviceStatus | None = None,
    kind: DeviceKind | None = None,
    profile: Annotated[str | None, Query(pattern=ID_PATTERN, description="Only devices of this profile")] = None,
    q: Annotated[
        str | None, Query(max_length=MAX_SEARCH, description="Case-insensitive part of the id or name")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> DevicePage:
    scope = tenant if principal.tenant is None else target_tenant(principal, tenant)
    label_filter = None
    if label is not None:
        key, sep, value = label.partition("=")
        if not sep or not key:
            raise InvalidInput("label must be key=value")
        label_filter = (key, value)
    query = DeviceQuery(
        tenant=scope,
        label=label_filter,
        status=status,
        kind=kind,
        search=q or None,
        profile=profile,
        limit=limit,
        offset=offset,
    )
    items, total = await services.registry.list(query)
    return DevicePage(items=items, total=total, limit=limit, offset=offset)


@router.get("/{device_id}", response_model=Device)
async def get_device(device: DeviceDep) -> Device:
    return device


@router.patch("/{device_id}", response_model=Device)
async def update_device(device: DeviceDep, body: DevicePatch, services: ServicesDep) -> Device:
    """Change name, labels or profile (one of the tenant's; ``""`` removes it); ``enabled: false`` refuses the
    device and closes its sessions."""
    return await services.registry.update(device.id, body)


@router.delete("/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_device(device: DeviceDep, services: ServicesDep) -> Response:
    """Delete the device with its telemetry and state, and close its sessions."""
    await services.registry.delete(device.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{device_id}/credentials", response_model=Credentials)
async def rotate_credentials(device: DeviceDep, services: ServicesDep) -> Credentials:
    """Issue a new secret; the old one stops working at once and live sessions are closed."""
    return await services.registry.rotate(device.id)

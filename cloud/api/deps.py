"""FastAPI dependencies: services, the calling principal, tenant-scoped lookups."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import OAuth2PasswordBearer
from pydantic import SecretStr

from cloud.api.audit_trail import note_actor, note_tenant
from cloud.identity.principals import Principal
from cloud.identity.tokens import TokenSession
from cloud.services import Services
from contracts.api import CSRF_HEADER, SESSION_COOKIE
from contracts.devices import Device
from contracts.ids import ID_PATTERN
from hub.errors import Forbidden, NotFound, Unauthorized
from hub.registry import DEFAULT_TENANT

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


BearerDep = Annotated[str | None, Depends(_bearer)]


def same_secret(given: str | None, expected: SecretStr) -> bool:
    """Whether ``given`` is the configured secret, compared in constant time."""
    return hmac.compare_digest((given or "").encode(), expected.get_secret_value().encode())


#: Methods that change nothing: a cookie session needs no CSRF token for them.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request, services: ServicesDep, token: BearerDep) -> TokenSession:
    """The caller's token, checked against the store on every request (revoked or stale tokens get 401).

    A bearer token comes first; else the portal's session cookie, which a browser sends on its own, so an
    unsafe request must also carry the session's CSRF token (a page of another site cannot know it).
    """
    if token:
        session = await services.tokens.authenticate(token)
        note_actor(session.principal)
        return session
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise Unauthorized("missing bearer token; get one from POST /api/v1/auth/token")
    session = await services.tokens.authenticate(cookie)
    if request.method not in SAFE_METHODS and not services.tokens.csrf_matches(
        session, request.headers.get(CSRF_HEADER)
    ):
        raise Forbidden(f"a request with the session cookie needs its {CSRF_HEADER} header (GET /api/v1/auth/session)")
    note_actor(session.principal)
    return session


SessionDep = Annotated[TokenSession, Depends(get_session)]


async def get_principal(session: SessionDep) -> Principal:
    return session.principal


async def get_stream_session(
    request: Request,
    services: ServicesDep,
    token: BearerDep,
    access_token: Annotated[str | None, Query(description="For EventSource clients that cannot set headers")] = None,
) -> TokenSession:
    return await get_session(request, services, token or access_token)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
DeviceId = Annotated[str, Path(pattern=ID_PATTERN, description="Device id")]


def target_tenant(principal: Principal, requested: str | None) -> str:
    """Tenant a caller acts in: its own, or for platform admins the one asked for (else ``default``)."""
    if principal.tenant is None:
        note_tenant(requested or DEFAULT_TENANT)
        return requested or DEFAULT_TENANT
    if requested is not None and requested != principal.tenant:
        raise NotFound("tenant", requested)
    return principal.tenant


def tenant_scope(principal: Principal, requested: str | None) -> str | None:
    """Tenant whose objects a caller lists or names by a hub-wide id: its own, or for platform admins the one
    asked for (``None``: every tenant)."""
    return requested if principal.tenant is None else target_tenant(principal, requested)


async def visible_device(device_id: str, principal: Principal, services: Services) -> Device:
    """The device if the caller may see it; otherwise 404, never 403, so ids do not leak across tenants."""
    device = await services.store.registry.get_device(device_id)
    if device is None or not principal.can_see(device.tenant):
        raise NotFound("device", device_id)
    note_tenant(device.tenant)
    return device


async def get_device(device_id: DeviceId, principal: PrincipalDep, services: ServicesDep) -> Device:
    return await visible_device(device_id, principal, services)


DeviceDep = Annotated[Device, Depends(get_device)]

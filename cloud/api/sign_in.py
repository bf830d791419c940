"""Signing in through the API: login protection first, then the identity providers; every try audited.

Both ``POST /api/v1/auth/token`` and ``POST /api/v1/auth/session`` come here. A locked-out username or address
gets ``429`` before any password is checked (the right one too); a wrong password and an unknown user are one
failure alike (the local users verify a dummy hash for an unknown one, so the time taken does not tell either).
A directory that is away is not the user's failure: it is audited but not counted.
"""

from __future__ import annotations

from fastapi import Request

from cloud.api.audit_trail import client_address, note_recorded
from cloud.api.errors import STATUS
from cloud.identity.principals import Principal
from cloud.services import Services
from contracts.audit import OK, Actor, ActorKind
from hub.clock import now_ms
from hub.errors import FieldhubError, StoreUnavailable, Unauthorized
from hub.store.audit import NewAuditRecord

#: The most of a username an audit record keeps (what someone typed may be anything).
MAX_USERNAME = 128


async def sign_in(request: Request, services: Services, username: str, password: str, *, via: str) -> Principal:
    """The principal for ``username`` and ``password``, or the error to answer with (audited either way)."""
    note_recorded()
    address = client_address(request.scope)
    try:
        await services.guard.check(username, address)
        principal = await services.sign_in.authenticate(username, password)
    except FieldhubError as exc:
        if isinstance(exc, Unauthorized):
            await services.guard.failed(username, address)
        tenant = await _tenant_of(services, username)
        _audit(services, username, address, via=via, outcome=exc.code.value, status=STATUS[exc.code], tenant=tenant)
        raise
    await services.guard.succeeded(username)
    _audit(services, principal.username, address, via=via, outcome=OK, status=200, tenant=principal.tenant)
    return principal


async def _tenant_of(services: Services, username: str) -> str | None:
    """The tenant of a known user (its admins see its failed sign-ins), else None."""
    try:
        user = await services.users.get(username[:MAX_USERNAME])
    except StoreUnavailable:
        return None
    return None if user is None else user.tenant


def _audit(
    services: Services,
    username: str,
    address: str | None,
    *,
    via: str,
    outcome: str,
    status: int,
    tenant: str | None,
) -> None:
    name = username[:MAX_USERNAME]
    services.audit.record(
        NewAuditRecord(
            ts=now_ms(),
            actor=Actor(kind=ActorKind.USER, id=name),
            action="auth.sign_in" if outcome == OK else "auth.sign_in_failed",
            outcome=outcome,
            target=name,
            tenant=tenant,
            address=address,
            status=status,
            detail={"via": via},
        )
    )

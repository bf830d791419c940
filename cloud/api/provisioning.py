"""Provisioning tokens (tenant admins) and gateway enrollment (the agent, with a token)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel

from cloud.api.audit_trail import client_address, note_recorded
from cloud.api.deps import PrincipalDep, ServicesDep, target_tenant
from cloud.api.errors import STATUS
from cloud.services import Services
from contracts.audit import OK, Actor, ActorKind
from contracts.provisioning import Enrolled, EnrollRequest, TokenCreate, TokenCreated, TokenInfo
from hub.clock import now_ms
from hub.errors import FieldhubError, NotFound
from hub.store.audit import NewAuditRecord

router = APIRouter(prefix="/api/v1", tags=["provisioning"])


class TokenList(BaseModel):
    items: list[TokenInfo]


@router.post("/provisioning-tokens", status_code=status.HTTP_201_CREATED, response_model=TokenCreated)
async def create_token(body: TokenCreate, principal: PrincipalDep, services: ServicesDep) -> TokenCreated:
    """A token for ``fieldhub agent enroll``; the ``token`` value is shown only in this answer."""
    principal.require_admin()
    tenant = target_tenant(principal, body.tenant)
    return await services.provisioning.create(body, tenant, principal.username)


@router.get("/provisioning-tokens", response_model=TokenList)
async def list_tokens(principal: PrincipalDep, services: ServicesDep) -> TokenList:
    principal.require_admin()
    return TokenList(items=await services.provisioning.list(principal.tenant))


@router.delete("/provisioning-tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(token_id: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    principal.require_admin()
    token = await services.provisioning.get(token_id)
    if token is None or not principal.can_see(token.tenant):
        raise NotFound("provisioning token", token_id)
    await services.provisioning.revoke(token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/enroll", status_code=status.HTTP_201_CREATED, response_model=Enrolled)
async def enroll(body: EnrollRequest, services: ServicesDep, request: Request, response: Response) -> Enrolled:
    """Register a new gateway with a provisioning token (no login: the token is the authority)."""
    response.headers["Cache-Control"] = "no-store"
    note_recorded()
    # The token's id names it (its secret follows the dot and is never recorded).
    token_id = body.token.partition(".")[0][:40]
    try:
        enrolled = await services.provisioning.enroll(body, services.mqtt_port)
    except FieldhubError as exc:
        actor = None if body.id is None else Actor(kind=ActorKind.DEVICE, id=body.id)
        _audit(
            services,
            request,
            actor=actor,
            outcome=exc.code.value,
            code=STATUS[exc.code],
            device=body.id,
            tenant=None,
            token_id=token_id,
        )
        raise
    device = enrolled.device
    actor = Actor(kind=ActorKind.DEVICE, id=device.id)
    _audit(
        services, request, actor=actor, outcome=OK, code=201, device=device.id, tenant=device.tenant, token_id=token_id
    )
    return enrolled


def _audit(
    services: Services,
    request: Request,
    *,
    actor: Actor | None,
    outcome: str,
    code: int,
    device: str | None,
    tenant: str | None,
    token_id: str,
) -> None:
    services.audit.record(
        NewAuditRecord(
            ts=now_ms(),
            actor=actor,
            action="device.enroll",
            outcome=outcome,
            target=device,
            tenant=tenant,
            address=client_address(request.scope),
            status=code,
            detail={"token": token_id},
        )
    )

"""Provisioning tokens (tenant admins) and gateway enrollment (the agent, with a token)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from cloud.api.deps import PrincipalDep, ServicesDep, target_tenant
from contracts.provisioning import Enrolled, EnrollRequest, TokenCreate, TokenCreated, TokenInfo
from hub.errors import NotFound

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
async def enroll(body: EnrollRequest, services: ServicesDep, response: Response) -> Enrolled:
    """Register a new gateway with a provisioning token (no login: the token is the authority)."""
    response.headers["Cache-Control"] = "no-store"
    return await services.provisioning.enroll(body, services.mqtt_port)

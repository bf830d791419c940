"""Tokens, signing out, and the caller's own identity and password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, StringConstraints

from cloud.api.deps import PrincipalDep, ServicesDep, SessionDep
from contracts.api import Token

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Me(BaseModel):
    username: str
    role: str
    tenant: str | None


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Annotated[str, StringConstraints(max_length=256)]
    new_password: Annotated[str, StringConstraints(min_length=12, max_length=256)]


@router.post("/token", response_model=Token)
async def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], services: ServicesDep) -> Token:
    """OAuth2 password flow: form fields ``username`` and ``password``."""
    principal = await services.sign_in.authenticate(form.username, form.password)
    return Token(access_token=await services.tokens.issue(principal), expires_in=services.tokens.ttl_s)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(session: SessionDep, services: ServicesDep) -> Response:
    """Revoke the calling token at once, in every hub process; the user's other tokens keep working."""
    await services.tokens.revoke(session)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(body: PasswordChange, principal: PrincipalDep, services: ServicesDep) -> Response:
    """Change one's own password; every token of the caller, this one too, stops working."""
    await services.users.change_own_password(principal.username, body.current_password, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=Me)
async def me(principal: PrincipalDep) -> Me:
    return Me(username=principal.username, role=principal.role.value, tenant=principal.tenant)

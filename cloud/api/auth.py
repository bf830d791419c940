"""Tokens and the caller's own identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from cloud.api.deps import PrincipalDep, ServicesDep
from contracts.api import Token

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Me(BaseModel):
    username: str
    role: str
    tenant: str | None


@router.post("/token", response_model=Token)
async def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], services: ServicesDep) -> Token:
    """OAuth2 password flow: form fields ``username`` and ``password``."""
    principal = await services.sign_in.authenticate(form.username, form.password)
    return Token(access_token=services.tokens.issue(principal), expires_in=services.tokens.ttl_s)


@router.get("/me", response_model=Me)
async def me(principal: PrincipalDep) -> Me:
    return Me(username=principal.username, role=principal.role.value, tenant=principal.tenant)

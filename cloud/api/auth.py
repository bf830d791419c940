"""Tokens, signing out, and the caller's own identity and password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, StringConstraints

from cloud.api.deps import PrincipalDep, ServicesDep, SessionDep
from cloud.api.sign_in import sign_in
from cloud.identity.tokens import TokenService, TokenSession
from contracts.api import SESSION_COOKIE, BrowserSession, Token

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Me(BaseModel):
    username: str
    role: str
    tenant: str | None


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Annotated[str, StringConstraints(max_length=256)]
    new_password: Annotated[str, StringConstraints(min_length=12, max_length=256)]


@router.post("/token", response_model=Token)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, services: ServicesDep
) -> Token:
    """OAuth2 password flow: form fields ``username`` and ``password``.

    After too many failed sign-ins for the username or from the client's address: ``429`` with ``Retry-After``.
    """
    principal = await sign_in(request, services, form.username, form.password, via="token")
    token = await services.tokens.issue(principal)
    return Token(access_token=token, expires_in=services.tokens.ttl_for(principal))


def _browser_session(tokens: TokenService, session: TokenSession) -> BrowserSession:
    principal = session.principal
    return BrowserSession(
        username=principal.username,
        role=principal.role.value,
        tenant=principal.tenant,
        csrf_token=tokens.csrf_token(session),
        expires=session.expires,
    )


@router.post("/session", response_model=BrowserSession)
async def open_session(
    body: Credentials, request: Request, response: Response, services: ServicesDep
) -> BrowserSession:
    """Sign a browser in: the token goes into an HttpOnly, SameSite=Lax cookie that scripts cannot read.

    The cookie is ``Secure`` when the request came over HTTPS (directly, or through a proxy uvicorn trusts).
    """
    principal = await sign_in(request, services, body.username, body.password, via="session")
    token = await services.tokens.issue(principal)
    session = services.tokens.verify(token)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=services.tokens.ttl_for(principal),
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )
    return _browser_session(services.tokens, session)


@router.get("/session", response_model=BrowserSession)
async def current_session(session: SessionDep, services: ServicesDep) -> BrowserSession:
    """The signed-in browser's session and CSRF token (a page reload asks for it again)."""
    return _browser_session(services.tokens, session)


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT)
async def close_session(session: SessionDep, services: ServicesDep) -> Response:
    """Sign a browser out: its session is revoked everywhere and the cookie removed."""
    await services.tokens.revoke(session)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


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

"""Authentication and authorization hooks for external brokers (EMQX style HTTP auth).

Off unless ``broker_hook_token`` is set; the broker then sends it as a bearer token. Answers are
200 with ``result`` allow/deny, as such brokers expect; credentials go through the same cached
authenticator, refusal counters and ACL rules as the embedded broker.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header

from cloud.api.deps import ServicesDep, same_secret
from contracts.broker_hooks import AclRule, AuthRequest, AuthResponse, AuthzRequest, AuthzResponse
from contracts.errors import AuthRefusal
from contracts.topics import client_id_allowed, device_acl, device_may_publish, device_may_subscribe
from hub.errors import NotFound, Unauthorized
from hub.security.device_auth import AuthRefused


async def require_hook_token(services: ServicesDep, authorization: Annotated[str | None, Header()] = None) -> None:
    expected = services.settings.broker_hook_token
    if expected is None:
        raise NotFound("route", "/api/v1/broker")
    if not same_secret((authorization or "").removeprefix("Bearer ").strip(), expected):
        raise Unauthorized("missing or wrong broker hook token")


router = APIRouter(prefix="/api/v1/broker", tags=["broker hooks"], dependencies=[Depends(require_hook_token)])


@router.post("/auth", response_model=AuthResponse)
async def authenticate(body: AuthRequest, services: ServicesDep) -> AuthResponse:
    """Check a device's MQTT credentials and client id; on success return its ACL."""
    try:
        identity = await services.authenticator.authenticate(body.username, body.password)
    except AuthRefused:
        return AuthResponse(result="deny")
    if not client_id_allowed(identity.device_id, body.clientid):
        services.metrics.auth_refused_by[AuthRefusal.CLIENT_ID].inc()
        return AuthResponse(result="deny")
    rules = [AclRule(action=action, topic=topic) for action, topic in device_acl(identity.device_id)]
    return AuthResponse(result="allow", acl=[*rules, AclRule(permission="deny", action="all", topic="#")])


@router.post("/authz", response_model=AuthzResponse)
async def authorize(body: AuthzRequest, services: ServicesDep) -> AuthzResponse:
    """Whether the device named by ``username`` may publish to or subscribe to ``topic``."""
    if body.action == "publish":
        allowed, reason = device_may_publish(body.username, body.topic), AuthRefusal.ACL_PUBLISH
    else:
        allowed, reason = device_may_subscribe(body.username, body.topic), AuthRefusal.ACL_SUBSCRIBE
    if not allowed:
        services.metrics.auth_refused_by[reason].inc()
    return AuthzResponse(result="allow" if allowed else "deny")

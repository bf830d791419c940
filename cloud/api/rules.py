"""Alarm rules: what raises an alarm on which devices, and whom it tells (docs/api.md#alarm-rules).

Tenancy as for profiles: a tenant's users act in their tenant, platform admins in any with ``?tenant=`` (one
rule's routes: ``default`` without it); another tenant's rule answers 404, as one that does not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel

from cloud.api.apps import TenantQuery, acting_tenant
from cloud.api.deps import PrincipalDep, ServicesDep, target_tenant, tenant_scope
from contracts.alarms import Rule, RuleCreate, RulePatch
from contracts.ids import ID_PATTERN

router = APIRouter(prefix="/api/v1/rules", tags=["alarms"])

RuleId = Annotated[str, Path(pattern=ID_PATTERN, description="Rule id")]


class RuleList(BaseModel):
    items: list[Rule]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Rule)
async def create_rule(
    body: RuleCreate, principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None
) -> Rule:
    """A new rule; 422 when it does not hold together or names a profile or channel the tenant does not have."""
    return await services.rules.create(await acting_tenant(principal, tenant, services), body)


@router.get("", response_model=RuleList)
async def list_rules(
    principal: PrincipalDep,
    services: ServicesDep,
    tenant: TenantQuery = None,
    profile: Annotated[str | None, Query(pattern=ID_PATTERN, description="Only rules of this profile")] = None,
    enabled: Annotated[bool | None, Query(description="Only enabled (true) or disabled (false) rules")] = None,
) -> RuleList:
    """The caller's tenant's rules (platform admins: of ``tenant``, else every tenant's), by tenant and id."""
    rules = await services.rules.list(tenant_scope(principal, tenant))
    return RuleList(
        items=[
            rule
            for rule in rules
            if (profile is None or rule.profile == profile) and (enabled is None or rule.enabled == enabled)
        ]
    )


@router.get("/{rule_id}", response_model=Rule)
async def get_rule(rule_id: RuleId, principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None) -> Rule:
    return await services.rules.get(target_tenant(principal, tenant), rule_id)


@router.patch("/{rule_id}", response_model=Rule)
async def update_rule(
    rule_id: RuleId, body: RulePatch, principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None
) -> Rule:
    """Replace the fields given; the rule is checked whole again (422 when it no longer holds together)."""
    return await services.rules.update(target_tenant(principal, tenant), rule_id, body)


@router.delete("/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_rule(
    rule_id: RuleId, principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None
) -> Response:
    """Remove a rule; its alarms stay, as history."""
    await services.rules.delete(target_tenant(principal, tenant), rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

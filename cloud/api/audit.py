"""The audit trail: who changed what, and every sign-in, newest first (docs/api.md#audit-trail).

Admins only: a tenant's admins see their tenant's records, platform admins every tenant's (or one's with
``?tenant=``); a plain user gets ``403``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from cloud.api.apps import TenantQuery
from cloud.api.deps import PrincipalDep, ServicesDep, tenant_scope
from cloud.api.params import parse_window
from contracts.audit import ACTION_FILTER_PATTERN, AuditRecord
from hub.store.audit import AuditQuery

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

_TIME = "RFC 3339 or epoch ms, 2000-01-01 to 9999-12-31"
#: Record ids are SQLite integers: a larger ``before`` is a 422, not an overflow.
MAX_RECORD_ID = 2**63 - 1


class AuditList(BaseModel):
    items: list[AuditRecord]
    next_before: int | None = Field(
        default=None, description="Pass as ``before`` for the next (older) page; None: this was the last"
    )


@router.get("", response_model=AuditList)
async def list_audit(
    *,
    principal: PrincipalDep,
    services: ServicesDep,
    tenant: TenantQuery = None,
    actor: Annotated[str | None, Query(max_length=256, description="The actor's id: a username, key or device")] = None,
    action: Annotated[
        str | None,
        Query(
            max_length=100,
            pattern=ACTION_FILTER_PATTERN,
            description="An action (device.create), or a family (device.)",
        ),
    ] = None,
    target: Annotated[str | None, Query(max_length=256, description="The object acted on")] = None,
    start: Annotated[str | None, Query(description=f"{_TIME}, inclusive")] = None,
    end: Annotated[str | None, Query(description=f"{_TIME}, exclusive")] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_RECORD_ID, description="Records older than this id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditList:
    """Audit records newest first; page with ``before`` (the answer's ``next_before``)."""
    principal.require_admin()
    start_ms, end_ms = parse_window(start, end)
    query = AuditQuery(
        tenant=tenant_scope(principal, tenant),
        actor=actor,
        action=action,
        target=target,
        start=start_ms,
        end=end_ms,
        before=before,
        limit=limit,
    )
    items = await services.audit.query(query)
    return AuditList(items=items, next_before=items[-1].id if len(items) == limit else None)

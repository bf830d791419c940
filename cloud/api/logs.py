"""Log routes: a deployment's app lines and the platform's lines (nodes, their apps, the hub), searched by text,
level, node and time, or followed live (Server-Sent Events).

Tenancy as for deployments: another tenant's deployment answers 404. ``/api/v1/logs`` shows a tenant's users the
lines of their tenant's nodes; platform admins see every tenant's and the hub's own (node ``hub``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from cloud.api.apps import TenantQuery
from cloud.api.deps import PrincipalDep, ServicesDep, get_stream_session, target_tenant
from cloud.api.params import parse_time
from cloud.api.sse import event_stream, watched
from cloud.identity.principals import Principal
from cloud.identity.tokens import TokenSession
from cloud.services import Services
from contracts.ids import ID_PATTERN
from contracts.telemetry import to_rfc3339
from hub.errors import InvalidInput
from hub.store.logs import HUB_TENANT, LEVELS, LogQuery, StoredLine

router = APIRouter(tags=["logs"])

MAX_LIMIT = 1000
Level = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
AppQuery = Annotated[str | None, Query(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", description="App name")]
StreamSession = Annotated[TokenSession, Depends(get_stream_session)]
DeploymentId = Annotated[str, Path(pattern=r"^dep-[0-9a-f]{12}$", description="Deployment id")]


class LogRecord(BaseModel):
    """One stored line; an app's lines name where they come from, the agent's and the hub's leave that out."""

    id: int = Field(description="Rises in the order lines were stored")
    ts: str = Field(description="When the line was written (RFC 3339, the writer's clock)")
    level: str
    tenant: str | None = Field(description="null for the hub's own lines")
    node: str = Field(description='The node that shipped it; "hub" for the hub\'s own lines')
    logger: str = Field(description='"app" for an app\'s output, else the logger that wrote it')
    message: str
    app: str | None = None
    version: str | None = None
    deployment: str | None = None
    instance: str | None = None
    service: str | None = None
    stream: str | None = Field(default=None, description="stdout or stderr, for app lines")


class LogRecords(BaseModel):
    items: list[LogRecord]


def _filters(
    *,
    q: Annotated[
        str | None,
        Query(
            max_length=500,
            description='Text search (SQLite FTS5 syntax): words (all must occur), "a phrase", prefix*, OR, NOT',
        ),
    ] = None,
    level: Annotated[Level | None, Query(description="Minimum level")] = None,
    node: Annotated[str | None, Query(pattern=ID_PATTERN, description="Only this node's lines")] = None,
    start: Annotated[str | None, Query(description="RFC 3339 or epoch ms, inclusive")] = None,
    end: Annotated[str | None, Query(description="RFC 3339 or epoch ms, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    order: Annotated[Literal["asc", "desc"], Query(description="By time: newest (desc) or oldest first")] = "desc",
) -> LogQuery:
    """The filters every log route takes."""
    query = LogQuery(
        node=node,
        text=q.strip() if q and q.strip() else None,
        min_level=LEVELS[level] if level else 0,
        start=parse_time(start, "start"),
        end=parse_time(end, "end"),
        limit=limit,
        descending=order == "desc",
    )
    if query.start is not None and query.end is not None and query.start >= query.end:
        raise InvalidInput("start must be before end")
    return query


FiltersDep = Annotated[LogQuery, Depends(_filters)]


def _record(line: StoredLine) -> LogRecord:
    return LogRecord(
        id=line.id,
        ts=to_rfc3339(line.ts),
        level=line.level_name,
        tenant=None if line.tenant == HUB_TENANT else line.tenant,
        node=line.node,
        logger=line.logger,
        message=line.message,
        app=line.app,
        version=line.version,
        deployment=line.deployment,
        instance=line.instance,
        service=line.service,
        stream=line.stream,
    )


async def _deployment_query(
    deployment_id: str, principal: Principal, services: Services, filters: LogQuery
) -> LogQuery:
    record = await services.deployments.get(deployment_id, principal.tenant)  # another tenant's: NotFound
    return replace(filters, tenant=record.tenant, deployment=record.id)


def _platform_query(
    principal: Principal, filters: LogQuery, tenant: str | None, app: str | None, deployment: str | None
) -> LogQuery:
    # Platform admins: every tenant and the hub unless they name one; everyone else: their own tenant.
    scope = tenant if principal.tenant is None else target_tenant(principal, tenant)
    return replace(filters, tenant=scope, app=app, deployment=deployment)


DeploymentQuery = Annotated[
    str | None, Query(pattern=r"^dep-[0-9a-f]{12}$", description="Only this deployment's lines")
]


@router.get("/api/v1/deployments/{deployment_id}/logs", response_model=LogRecords)
async def deployment_logs(
    deployment_id: DeploymentId, principal: PrincipalDep, services: ServicesDep, filters: FiltersDep
) -> LogRecords:
    """The lines a deployment's instances wrote (stdout and stderr of every service), newest first by default."""
    query = await _deployment_query(deployment_id, principal, services, filters)
    return LogRecords(items=[_record(line) for line in await services.logs.search(query)])


@router.get("/api/v1/deployments/{deployment_id}/logs/stream", response_class=StreamingResponse)
async def deployment_log_stream(
    deployment_id: DeploymentId, services: ServicesDep, session: StreamSession, filters: FiltersDep
) -> StreamingResponse:
    """Server-Sent Events: one ``log`` event (a :class:`LogRecord`) per new line of the deployment that passes
    the filters (``start``, ``end``, ``limit`` and ``order`` do not apply), in the order they are stored.

    The stream ends with an ``end`` event (``{"reason": "token_expired" | "revoked" | "unavailable"}``) once its
    token expires or is revoked.
    """
    query = await _deployment_query(deployment_id, session.principal, services, filters)
    return await _stream(services, session, query)


@router.get("/api/v1/logs", response_model=LogRecords)
async def platform_logs(
    *,
    principal: PrincipalDep,
    services: ServicesDep,
    filters: FiltersDep,
    tenant: TenantQuery = None,
    app: AppQuery = None,
    deployment: DeploymentQuery = None,
) -> LogRecords:
    """Lines of the caller's tenant's nodes and their apps; platform admins: of every tenant (or ``tenant``) and
    the hub's own (node ``hub``)."""
    query = _platform_query(principal, filters, tenant, app, deployment)
    return LogRecords(items=[_record(line) for line in await services.logs.search(query)])


@router.get("/api/v1/logs/stream", response_class=StreamingResponse)
async def platform_log_stream(
    *,
    services: ServicesDep,
    session: StreamSession,
    filters: FiltersDep,
    tenant: TenantQuery = None,
    app: AppQuery = None,
    deployment: DeploymentQuery = None,
) -> StreamingResponse:
    """Server-Sent Events of the lines ``GET /api/v1/logs`` shows, as they are stored (see the deployment's)."""
    query = _platform_query(session.principal, filters, tenant, app, deployment)
    return await _stream(services, session, query)


def _event(line: StoredLine) -> bytes:
    return b"event: log\ndata: " + orjson.dumps(_record(line).model_dump(exclude_none=True)) + b"\n\n"


async def _stream(services: Services, session: TokenSession, query: LogQuery) -> StreamingResponse:
    # Opened before the answer starts: a query the store cannot run is a 422, not a broken stream.
    tail = await services.logs.tail(replace(query, start=None, end=None))

    return event_stream(watched(services.tokens, session, tail.next, _event))

"""Deployment routes: deploy an app version onto the tenant's nodes, follow its placement, delete it.

Tenancy as for apps: a tenant's users act in their tenant, platform admins in any with ``?tenant=``; another
tenant's deployment answers 404, as one that does not exist.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.apps import TenantQuery, acting_tenant
from cloud.api.deps import PrincipalDep, ServicesDep, target_tenant
from contracts.apps import SEMVER_PATTERN, AppName
from contracts.schedules import NowSchedule, Schedule, parse_schedule
from hub.clock import now_ms
from hub.deploy.schedules import plan
from hub.store.apps import DeploymentRecord

router = APIRouter(prefix="/api/v1/deployments", tags=["deployments"])

DeploymentId = Annotated[str, Path(pattern=r"^dep-[0-9a-f]{12}$", description="Deployment id")]


class DeploymentCreate(BaseModel):
    """What to deploy."""

    model_config = ConfigDict(extra="forbid")

    app: AppName
    version: str | None = Field(default=None, pattern=SEMVER_PATTERN, max_length=64, description="Default: newest")
    replicas: int | None = Field(default=None, ge=1, le=64, description="Default: the manifest's [placement]")
    schedule: Schedule = Field(
        default_factory=NowSchedule, description="When it runs (docs/apps.md#schedules); default: now, until deleted"
    )


class ServiceState(BaseModel):
    status: str = Field(description="starting, running, restarting, crashloop, stopped")
    pid: int | None = Field(default=None, description="Process id on the node (python runtime)")
    container: str | None = Field(default=None, description="Container id on the node (container runtime)")
    exit_code: int | None = None
    restarts: int = 0


class Instance(BaseModel):
    node: str
    replica: int = Field(default=0, description="0, 1, ... among the deployment's instances on that node")
    status: str = Field(
        description="deploying (not heard of yet), fetching, installing, starting, running, restarting, crashloop, "
        "failed, stopped"
    )
    reason: str = Field(default="", description="What the node says of it, e.g. why it failed")
    since: int | None = Field(default=None, description="When the node last changed its status (epoch ms)")
    services: dict[str, ServiceState] = Field(default_factory=dict)


class Candidate(BaseModel):
    node: str
    accepted: bool
    reason: str = Field(description='Why the node was rejected, or its rank (e.g. "chosen: rank 1 of 2")')
    rank: int | None


class Placement(BaseModel):
    reason: str = Field(description="The decision in one line; with no qualifying node, why the deployment waits")
    candidates: list[Candidate] = Field(description="One entry per node of the tenant, accepted first by rank")


class TimelineEntry(BaseModel):
    ts: int
    status: str
    reason: str


class Deployment(BaseModel):
    """An app version deployed onto nodes."""

    id: str
    tenant: str
    app: str
    version: str
    replicas: int
    status: str = Field(
        description="scheduled, pending, deploying, running, degraded, stopped, completed (its schedule ended), failed"
    )
    instances: list[Instance]
    placement: Placement | None
    link: str | None = Field(
        description="The app's link on the hub, /apps/{tenant}/{app}/ (null when its default service has no [http])"
    )
    schedule: Schedule
    next_start: int | None = Field(
        description="When its schedule's next run starts (epoch ms; null: none to come, or a run without end is on)"
    )
    created: int
    updated: int
    timeline: list[TimelineEntry]


class DeploymentList(BaseModel):
    items: list[Deployment]


def _deployment(record: DeploymentRecord, link: str | None) -> Deployment:
    placement: dict[str, Any] = json.loads(record.placement)
    return Deployment(
        id=record.id,
        tenant=record.tenant,
        app=record.app,
        version=record.version,
        replicas=record.replicas,
        status=record.status.value,
        instances=[Instance.model_validate(i) for i in json.loads(record.instances)],
        placement=Placement.model_validate(placement) if placement else None,
        link=link,
        schedule=parse_schedule(record.schedule),
        next_start=plan(record, now_ms()).next_start,
        created=record.created,
        updated=record.updated,
        timeline=[TimelineEntry(ts=t.ts, status=t.status.value, reason=t.reason) for t in record.timeline],
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Deployment)
async def create_deployment(
    body: DeploymentCreate, principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None
) -> Deployment:
    """Deploy an app version. It is placed at once on the nodes hosting its bindings (``deploying``), or waits
    as ``pending`` with the reason in ``placement.reason`` until a qualifying node sends a heartbeat. With a
    ``schedule`` other than ``now`` it is ``scheduled`` until its ``next_start``; an invalid schedule is a ``422``
    naming the problem."""
    acting = await acting_tenant(principal, tenant, services)
    record = await services.schedules.create(acting, body.app, body.version, body.replicas, body.schedule)
    return _deployment(record, await services.deployments.link_path(record))


@router.get("", response_model=DeploymentList)
async def list_deployments(
    principal: PrincipalDep, services: ServicesDep, tenant: TenantQuery = None
) -> DeploymentList:
    """The deployments of the caller's tenant (platform admins: of ``tenant``, else of every tenant), oldest first."""
    scope = tenant if principal.tenant is None else target_tenant(principal, tenant)
    records = await services.deployments.list_deployments(scope)
    return DeploymentList(items=[_deployment(d, await services.deployments.link_path(d)) for d in records])


@router.get("/{deployment_id}", response_model=Deployment)
async def get_deployment(deployment_id: DeploymentId, principal: PrincipalDep, services: ServicesDep) -> Deployment:
    """One deployment with its placement (why each node was chosen or rejected) and its timeline."""
    record = await services.deployments.get(deployment_id, principal.tenant)
    return _deployment(record, await services.deployments.link_path(record))


@router.delete("/{deployment_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_deployment(deployment_id: DeploymentId, principal: PrincipalDep, services: ServicesDep) -> Response:
    """Stop a deployment: its nodes are told to remove its instances, then it is deleted."""
    await services.deployments.delete(deployment_id, principal.tenant)
    services.schedules.wake()
    return Response(status_code=status.HTTP_204_NO_CONTENT)

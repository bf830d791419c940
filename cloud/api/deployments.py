"""Deployment routes: deploy an app version onto the tenant's nodes, follow its placement, update it to another
version (a rollout, :mod:`hub.deploy.rollout`), delete it.

Tenancy as for apps: a tenant's users act in their tenant, platform admins in any with ``?tenant=``; another
tenant's deployment answers 404, as one that does not exist.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Self

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cloud.api.apps import TenantQuery, acting_tenant
from cloud.api.deps import PrincipalDep, ServicesDep, target_tenant
from contracts.apps import SEMVER_PATTERN, AppName
from contracts.schedules import NowSchedule, Schedule, parse_schedule
from hub.clock import now_ms
from hub.deploy.instances import FOLLOWS_INSTANCES
from hub.deploy.rollout import DEFAULT_GRACE_S, Rollout
from hub.deploy.schedules import plan
from hub.errors import Conflict
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


class DeploymentUpdate(BaseModel):
    """The version to roll a deployment out to, or the number of replicas it should have (one of the two)."""

    model_config = ConfigDict(extra="forbid")

    version: str | None = Field(
        default=None, pattern=SEMVER_PATTERN, max_length=64, description="A pushed version of the app"
    )
    replicas: int | None = Field(default=None, ge=1, le=64, description="Instances it should have")
    grace_s: int = Field(
        default=DEFAULT_GRACE_S,
        ge=1,
        le=3600,
        description="Seconds each updated instance must run before the next one is updated; a failure within "
        "them rolls the deployment back",
    )

    @model_validator(mode="after")
    def _one_change(self) -> Self:
        if (self.version is None) == (self.replicas is None):
            raise ValueError("give either version or replicas")
        return self


class ServiceState(BaseModel):
    status: str = Field(description="starting, running, restarting, crashloop, stopped")
    pid: int | None = Field(default=None, description="Process id on the node (python runtime)")
    container: str | None = Field(default=None, description="Container id on the node (container runtime)")
    exit_code: int | None = None
    restarts: int = 0


class Instance(BaseModel):
    node: str
    replica: int = Field(default=0, description="0, 1, ... among the deployment's instances on that node")
    version: str | None = Field(
        default=None, description="The app version this instance runs (during a rollout: the old or the new one)"
    )
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


class RolloutState(BaseModel):
    from_: str = Field(alias="from", description="The version rolled out from (and back to on a failure)")
    to: str
    grace_s: int
    started: int = Field(description="Epoch ms")


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
    rollout: RolloutState | None = Field(
        default=None, description="The rollout under way (PATCH /api/v1/deployments/{id}); null: none"
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
    # A run of a schedule that ended during a rollout leaves it behind: only an active deployment rolls out.
    rollout = Rollout.of(record.placement) if record.status in FOLLOWS_INSTANCES else None
    instances = [{"version": record.version} | i for i in json.loads(record.instances)]
    return Deployment(
        id=record.id,
        tenant=record.tenant,
        app=record.app,
        version=record.version,
        replicas=record.replicas,
        status=record.status.value,
        instances=[Instance.model_validate(i) for i in instances],
        placement=Placement.model_validate(placement) if placement else None,
        link=link,
        rollout=None
        if rollout is None
        else RolloutState.model_validate(
            {"from": rollout.source, "to": rollout.target, "grace_s": rollout.grace_s, "started": rollout.started}
        ),
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


@router.patch("/{deployment_id}", response_model=Deployment)
async def update_deployment(
    deployment_id: DeploymentId, body: DeploymentUpdate, principal: PrincipalDep, services: ServicesDep
) -> Deployment:
    """Update a deployment to another version of its app: its instances are updated one by one, each running
    ``grace_s`` before the next; a new instance that fails, crashes or restarts within that time rolls every
    instance back to the previous version by itself (timeline and event ``deployment.rolled_back`` say why).
    ``404`` for an unknown version; ``409`` for a deployment that is not active (pending, scheduled, stopped,
    completed), one that runs that version already, or one that is rolling out.

    With ``replicas`` instead, instances are added on qualifying nodes or the newest removed; ``409`` when that
    cannot be done now (not active, rolling out, or no node qualifies for another instance)."""
    if body.replicas is not None:
        record = await services.deployments.get(deployment_id, principal.tenant)
        if body.replicas != record.replicas:
            reason = f"set by {principal.username}"
            if not await services.deployments.scale_to(deployment_id, body.replicas, reason):
                raise Conflict(
                    f"deployment {deployment_id} cannot have {body.replicas} replica(s) now: it is not active, "
                    "rolls out, or no node qualifies for another instance"
                )
            record = await services.deployments.get(deployment_id, principal.tenant)
        return _deployment(record, await services.deployments.link_path(record))
    assert body.version is not None  # one of the two, as the model checks
    record = await services.deployments.update_version(
        deployment_id, body.version, grace_s=body.grace_s, tenant=principal.tenant
    )
    return _deployment(record, await services.deployments.link_path(record))


@router.delete("/{deployment_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_deployment(deployment_id: DeploymentId, principal: PrincipalDep, services: ServicesDep) -> Response:
    """Stop a deployment: its nodes are told to remove its instances, then it is deleted."""
    await services.deployments.delete(deployment_id, principal.tenant)
    services.schedules.wake()
    return Response(status_code=status.HTTP_204_NO_CONTENT)

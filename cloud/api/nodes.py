"""Edge nodes (gateways running the agent): their latest health, spool backlog and sensors, and the packages
of the apps they are told to run (fetched with the node's own MQTT credentials, not a user's token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel

from cloud.api.apps import package_response
from cloud.api.deps import PrincipalDep, ServicesDep, target_tenant, visible_device
from cloud.api.params import Offset
from cloud.services import Services
from contracts.api import Page
from contracts.devices import Device, DeviceKind, DeviceStatus
from contracts.ids import ID_PATTERN
from contracts.nodes import Node
from contracts.telemetry import from_epoch_ms, to_rfc3339
from hub.broker.base import DeviceIdentity
from hub.clock import now_ms
from hub.deploy.health import HealthThresholds, NodeHealth
from hub.errors import NotFound, Unauthorized
from hub.security.device_auth import AuthRefused
from hub.store.logs import LogQuery
from hub.store.registry import DeviceQuery

router = APIRouter(prefix="/api/v1/nodes", tags=["nodes"])

_basic = HTTPBasic(auto_error=False, description="The node's MQTT username and password")
NODE_CHALLENGE = 'Basic realm="fieldhub-node"'
Digest = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="sha256 of the package (hex)")]


class NodePage(Page[Node]):
    """A page of nodes."""


async def node_identity(services: Services, node_id: str, username: str | None, password: str | None) -> DeviceIdentity:
    """The node itself, by its MQTT username and password (how a node calls the hub over HTTP).

    Raises:
        Unauthorized: missing or wrong credentials, or another device's (the same answer: nothing leaks).
    """
    try:
        identity = await services.authenticator.authenticate(username, password)
    except AuthRefused as exc:
        raise Unauthorized("missing or wrong node credentials", challenge=NODE_CHALLENGE) from exc
    if identity.device_id != node_id:
        raise Unauthorized("these credentials are not the node's", challenge=NODE_CHALLENGE)
    return identity


async def _node(device: Device, services: Services) -> Node:
    latest = await services.nodes.latest(device.id)
    s = services.settings
    thresholds = HealthThresholds(s.node_suspect_s, s.node_dead_s)
    if latest is None:
        return Node.of(device, None, None, NodeHealth.DEAD.value)
    beat, received = latest
    return Node.of(device, beat, from_epoch_ms(received), thresholds.of(received, now_ms()).value)


@router.get("", response_model=NodePage)
async def list_nodes(
    *,
    principal: PrincipalDep,
    services: ServicesDep,
    tenant: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    status: DeviceStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> NodePage:
    """Gateways with their latest heartbeat, ordered by id."""
    scope = tenant if principal.tenant is None else target_tenant(principal, tenant)
    query = DeviceQuery(tenant=scope, status=status, kind=DeviceKind.GATEWAY, limit=limit, offset=offset)
    devices, total = await services.registry.list(query)
    return NodePage(items=[await _node(d, services) for d in devices], total=total, limit=limit, offset=offset)


class LogEntry(BaseModel):
    ts: str
    level: str
    logger: str
    message: str


class NodeLogs(BaseModel):
    node_id: str
    lines: list[LogEntry]


@router.get("/{node_id}/logs", response_model=NodeLogs)
async def node_logs(
    node_id: str, principal: PrincipalDep, services: ServicesDep, limit: Annotated[int, Query(ge=1, le=2000)] = 200
) -> NodeLogs:
    """The newest log lines a node (or any device) shipped on ``devices/{id}/logs``, its own and its apps',
    oldest first (search them with ``GET /api/v1/logs?node=``)."""
    device = await visible_device(node_id, principal, services)
    rows = await services.logs.search(LogQuery(tenant=device.tenant, node=device.id, limit=limit, stored_order=True))
    lines = [
        LogEntry(ts=to_rfc3339(row.ts), level=row.level_name, logger=row.logger, message=row.message)
        for row in reversed(rows)
    ]
    return NodeLogs(node_id=device.id, lines=lines)


@router.get("/{node_id}", response_model=Node)
async def get_node(node_id: str, principal: PrincipalDep, services: ServicesDep) -> Node:
    """One gateway with its latest health, spool backlog and attached sensors."""
    device = await visible_device(node_id, principal, services)
    if device.kind is not DeviceKind.GATEWAY:
        raise NotFound("node", node_id)
    return await _node(device, services)


@router.get(
    "/{node_id}/packages/{digest}",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "The package, as pushed"}},
)
async def node_package(
    node_id: str,
    digest: Digest,
    services: ServicesDep,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> Response:
    """A package the node is told to run (its desired set holds ``digest``), for the node itself: HTTP Basic
    with its MQTT username and password. Another device's credentials are refused (401) as wrong ones; a
    package outside the node's desired set is 404, whether or not it exists elsewhere."""
    identity = await node_identity(
        services, node_id, credentials.username if credentials else None, credentials.password if credentials else None
    )
    record = await services.deployments.desired_package(identity.tenant, node_id, digest)
    return await package_response(services, record)

"""Edge nodes (gateways running the agent): their latest health, spool backlog and sensors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from cloud.api.deps import PrincipalDep, ServicesDep, target_tenant, visible_device
from cloud.api.params import Offset
from cloud.services import Services
from contracts.api import Page
from contracts.devices import Device, DeviceKind, DeviceStatus
from contracts.ids import ID_PATTERN
from contracts.nodes import Node
from contracts.telemetry import from_epoch_ms, to_rfc3339
from hub.errors import NotFound
from hub.store.registry import DeviceQuery

router = APIRouter(prefix="/api/v1/nodes", tags=["nodes"])


class NodePage(Page[Node]):
    """A page of nodes."""


async def _node(device: Device, services: Services) -> Node:
    latest = await services.nodes.latest(device.id)
    if latest is None:
        return Node.of(device, None, None)
    beat, received = latest
    return Node.of(device, beat, from_epoch_ms(received))


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
    """The newest log lines a node (or any device) shipped on ``devices/{id}/logs``, oldest first."""
    device = await visible_device(node_id, principal, services)
    rows = await services.store.nodes.recent_logs(device.id, limit)
    lines = [LogEntry(ts=to_rfc3339(ts), level=level, logger=name, message=text) for ts, level, name, text in rows]
    return NodeLogs(node_id=device.id, lines=lines)


@router.get("/{node_id}", response_model=Node)
async def get_node(node_id: str, principal: PrincipalDep, services: ServicesDep) -> Node:
    """One gateway with its latest health, spool backlog and attached sensors."""
    device = await visible_device(node_id, principal, services)
    if device.kind is not DeviceKind.GATEWAY:
        raise NotFound("node", node_id)
    return await _node(device, services)

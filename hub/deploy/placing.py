"""Placement with its inputs and outputs: a tenant's gateways as :mod:`hub.deploy.placement` weighs them now
(registry, latest heartbeats, health and the instances already on them), and a decision as a deployment stores it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from contracts.devices import Device, DeviceKind
from hub.clock import now_ms
from hub.deploy.desired import ACTIVE, nodes_of
from hub.deploy.health import HealthThresholds
from hub.deploy.placement import Decision, Needs, node_view, place
from hub.registry import DeviceRegistry
from hub.store.apps import AppStore, DeploymentQuery, DeploymentStatus
from hub.store.nodes import NodeStore
from hub.store.registry import DeviceQuery

#: Gateways read from the registry per page while gathering the candidate nodes.
_PAGE = 500


def placement_doc(decision: Decision) -> dict[str, Any]:
    """The ``placement`` a deployment keeps: the decision's reason and one entry per candidate node."""
    return {
        "reason": decision.reason,
        "candidates": [
            {"node": c.node, "accepted": c.accepted, "reason": c.reason, "rank": c.rank} for c in decision.candidates
        ],
    }


def new_instances(chosen: list[str]) -> list[dict[str, Any]]:
    """One entry per chosen node id (repeated ids: several replicas on that node, numbered per node)."""
    seen: Counter[str] = Counter()
    entries = []
    for node in chosen:
        entries.append({"node": node, "replica": seen[node], "status": DeploymentStatus.DEPLOYING.value})
        seen[node] += 1
    return entries


class Placer:
    """Decides where ``needs`` go among a tenant's gateways as they are now."""

    def __init__(self, store: AppStore, registry: DeviceRegistry, nodes: NodeStore, health: HealthThresholds) -> None:
        self._store = store
        self._registry = registry
        self._nodes = nodes
        self._health = health

    async def decide(self, tenant: str, needs: Needs) -> Decision:
        """Where ``needs`` go among the gateways of ``tenant`` (:func:`hub.deploy.placement.place`)."""
        active = await self._store.list_deployments(DeploymentQuery(tenant=tenant, statuses=ACTIVE))
        running = Counter(node for d in active for node in nodes_of(d, distinct=False))
        views = []
        now = now_ms()
        for device in await self._gateways(tenant):
            beat = await self._nodes.get_heartbeat(device.id)
            health = self._health.of(beat.received if beat is not None else None, now)
            views.append(node_view(device, beat, instances=running[device.id], health=health))
        return place(needs, views)

    async def _gateways(self, tenant: str) -> list[Device]:
        found: list[Device] = []
        while True:
            page, total = await self._registry.list(
                DeviceQuery(tenant=tenant, kind=DeviceKind.GATEWAY, limit=_PAGE, offset=len(found))
            )
            found += page
            if not page or len(found) >= total:
                return found

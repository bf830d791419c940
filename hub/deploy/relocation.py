"""A dead node's instances placed on other nodes, deployment by deployment: the store side of
:mod:`hub.deploy.failover`, which tells when a node is dead."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from hub.clock import now_ms
from hub.deploy.desired import ACTIVE, DesiredSets, manifest_of, nodes_of
from hub.deploy.placement import Needs
from hub.deploy.placing import Placer
from hub.store.apps import AppStore, DeploymentQuery, DeploymentStatus, StaleStatus, Transition

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Moved:
    """A deployment whose instances left a dead node: the nodes they went to (empty: nowhere), and why."""

    deployment: str
    to: list[str]
    reason: str


class Relocation:
    """Finds the nodes that run instances and moves a dead one's instances elsewhere."""

    def __init__(self, store: AppStore, placer: Placer, desired: DesiredSets, lock: asyncio.Lock) -> None:
        self._store = store
        self._placer = placer
        self._desired = desired
        self._lock = lock

    async def placed_nodes(self) -> dict[str, str]:
        """Every node that active deployments place instances on, with its tenant."""
        active = await self._store.list_deployments(DeploymentQuery(statuses=ACTIVE))
        return {node: d.tenant for d in active for node in nodes_of(d)}

    async def move_off(self, node: str, tenant: str, why: str) -> list[Moved]:
        """Place elsewhere the instances ``node`` (dead) runs, deployment by deployment, and tell the nodes.

        Where no other node qualifies the deployment is ``degraded`` with the reason and keeps its instances on
        ``node``, in case it comes back. The node's own set, published without what moved, tells it to stop
        those instances once it hears the hub again (see :mod:`hub.deploy.failover`).
        """
        moved: list[Moved] = []
        async with self._lock:
            touched = {node}
            for deployment in await self._store.list_deployments(DeploymentQuery(tenant=tenant, statuses=ACTIVE)):
                entries: list[dict[str, Any]] = json.loads(deployment.instances)
                lost = [e for e in entries if e["node"] == node]
                record = await self._store.get_version(tenant, deployment.app, deployment.version)
                if not lost or record is None:
                    continue
                decision = await self._placer.decide(tenant, Needs.of(manifest_of(record), len(lost)))
                ts = now_ms()
                if decision.pending:
                    change = Transition(ts, DeploymentStatus.DEGRADED, f"{why}; {decision.reason}")
                else:
                    kept = [e for e in entries if e["node"] != node]
                    on = Counter(str(e["node"]) for e in kept)
                    for target in decision.chosen:
                        kept.append({"node": target, "replica": on[target], "status": DeploymentStatus.DEPLOYING.value})
                        on[target] += 1
                    await self._store.set_instances(deployment.id, json.dumps(kept), ts)
                    touched.update(decision.chosen)
                    change = Transition(ts, DeploymentStatus.DEPLOYING, f"{why}; rescheduled: {decision.reason}")
                if change.status is not deployment.status:
                    with contextlib.suppress(StaleStatus):  # stopped or deleted meanwhile
                        await self._store.update_status(deployment.id, change, expected=deployment.status)
                moved.append(Moved(deployment.id, decision.chosen, change.reason))
                log.warning("deployment %s: %s", deployment.id, change.reason)
            await self._desired.publish(tenant, touched)
        return moved

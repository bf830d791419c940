"""Node health from heartbeats, and the instances of a dead node placed elsewhere.

A node is ``healthy`` while its latest heartbeat is younger than ``node_suspect_s``, ``suspect`` until it is
``node_dead_s`` old, then ``dead`` (a node that never sent one is ``dead`` as well). The defaults, 7 s and 10 s
for the agent's 5 s heartbeat, put an app back into service on another node within 15 s of its node's last
heartbeat: 10 s to call the node dead, at most a second for the monitor to notice, and the new node's fetch,
start and health check.

:class:`NodeMonitor` looks, every second, at the nodes that run instances. When one turns dead, its instances are
placed again on other qualifying nodes (the placement rules, the dead node excluded); with none, the deployment
is ``degraded`` with the reason and keeps its instances where they were, in case the node comes back. The dead
node's own desired set, retained, no longer names what moved: when it comes back and hears so, it stops them,
and not before (a node cut off from the hub keeps its apps running). Transitions are logged and given to
``on_change`` (the events of the platform).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from contracts.events import EventKind
from hub.clock import now_ms
from hub.deploy.deployments import Deployments
from hub.deploy.health import HealthThresholds, NodeHealth
from hub.events.service import Events
from hub.store.nodes import NodeStore

log = logging.getLogger(__name__)

#: Seconds between two looks at the nodes running instances.
CHECK_S = 1.0


#: Told of each change of a node's health: ``(node, tenant, health before, health now)``.
OnChange = Callable[[str, str, NodeHealth, NodeHealth], Awaitable[None]]
#: Places elsewhere the instances of a dead node: ``(node, tenant, why)``.
MoveOff = Callable[[str, str, str], Awaitable[None]]
#: The nodes that run instances now, with their tenants.
Placed = Callable[[], Awaitable[dict[str, str]]]


class NodeMonitor:
    """Follows the health of the nodes running instances and moves a dead node's instances; see the module."""

    def __init__(
        self, placed: Placed, nodes: NodeStore, move_off: MoveOff, thresholds: HealthThresholds, on_change: OnChange
    ) -> None:
        self._placed = placed
        self._nodes = nodes
        self._move_off = move_off
        self._thresholds = thresholds
        self._on_change = on_change
        #: Nodes followed: those running instances, and those not healthy (to see them come back).
        self._known: dict[str, tuple[str, NodeHealth]] = {}

    async def run(self, interval_s: float = CHECK_S) -> None:
        """:meth:`check` every ``interval_s`` until cancelled; a failed round is logged and the next one runs."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.check()
            except Exception:  # the store may be away for a moment; the next round tries again
                log.exception("checking the nodes' health failed")

    async def check(self) -> None:
        """One round: every node running instances (or not healthy), its health now, and what follows."""
        now = now_ms()
        followed = {node: tenant for node, (tenant, health) in self._known.items() if health is not NodeHealth.HEALTHY}
        followed |= await self._placed()
        for node, tenant in sorted(followed.items()):
            beat = await self._nodes.get_heartbeat(node)
            health = self._thresholds.of(beat.received if beat is not None else None, now)
            before = self._known.get(node, (tenant, NodeHealth.HEALTHY))[1]
            self._known[node] = (tenant, health)
            if health is before:
                continue
            log.warning("node %s (tenant %s) is %s, was %s", node, tenant, health, before)
            await self._on_change(node, tenant, before, health)
            if health is NodeHealth.DEAD:
                age = (
                    "never sent a heartbeat"
                    if beat is None
                    else f"no heartbeat for {(now - beat.received) / 1000:.0f} s"
                )
                await self._move_off(node, tenant, f"node {node} is dead ({age})")
        for node in set(self._known) - set(followed):
            del self._known[node]


#: The event of each change of a node's health.
_HEALTH_EVENTS = {
    NodeHealth.SUSPECT: EventKind.NODE_SUSPECT,
    NodeHealth.DEAD: EventKind.NODE_DEAD,
    NodeHealth.HEALTHY: EventKind.NODE_BACK,
}


class Failover:
    """What the monitor's findings do: a dead node's instances move, and every change is an event."""

    def __init__(self, deployments: Deployments, events: Events) -> None:
        self._deployments = deployments
        self._events = events

    async def health_changed(self, node: str, tenant: str, before: NodeHealth, now: NodeHealth) -> None:
        self._events.record(
            _HEALTH_EVENTS[now],
            tenant,
            message=f"node {node} is {now.value} (was {before.value})",
            node=node,
            data={"before": before.value},
        )

    async def move_off(self, node: str, tenant: str, why: str) -> None:
        for moved in await self._deployments.move_off(node, tenant, why):
            kind = EventKind.DEPLOYMENT_RESCHEDULED if moved.to else EventKind.DEPLOYMENT_DEGRADED
            self._events.record(
                kind,
                tenant,
                message=moved.reason,
                deployment=moved.deployment,
                node=node,
                data={"from": node, "to": moved.to},
            )

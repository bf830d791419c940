"""Autoscaling: a deployment whose manifest has ``[scale]`` follows its instances' CPU, one replica at a time.

Each node's heartbeat lists the app instances it runs with the CPU each used since the previous heartbeat
(:class:`contracts.nodes.InstanceLoad`, percent of one core; unknown at first and for containers). Every few
seconds (:data:`TICK_S`) the :class:`Scaler` reads, for each active deployment with ``[scale]`` and no rollout
under way, the loads of its ``running`` instances from their nodes' latest heartbeats, and :func:`decide`
says how many replicas it should have:

- the average of the known loads above ``cpu_percent``: one more, up to ``max``;
- below half of ``cpu_percent``: one fewer, down to ``min`` (between the two nothing changes, so the
  replicas do not flap around the target);
- no known load: no change, unless the replicas lie outside ``min``..``max`` (then to the nearest bound);
- within ``cooldown_s`` of the deployment's last change: no change at all.

:meth:`hub.deploy.deployments.Deployments.scale_to` places the extra instance on a qualifying node (or
removes the newest one) and tells the nodes; with no qualifying node nothing changes and the next tick tries
again.

The time of each deployment's last change is kept in memory by the Scaler, and the first time a Scaler
sees a deployment counts as a change: after a hub restart (and for a new deployment) the first change comes
a full cool-down after the Scaler started watching, so a restart never shortens a cool-down, at the price of
waiting up to one cool-down longer. Scaling runs in the hub process that runs the deployer; several such
processes on one store would each apply their own cool-down.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from pydantic import ValidationError

from contracts.apps import AppManifest, Scale
from contracts.nodes import InstanceLoad
from hub.clock import now_ms
from hub.deploy.rollout import Rollout
from hub.store.apps import AppStore, DeploymentQuery, DeploymentRecord, DeploymentStatus
from hub.store.nodes import HeartbeatRecord, NodeStore

log = logging.getLogger(__name__)

#: Seconds between two looks at the deployments' loads.
TICK_S = 5.0
#: Deployments that may be scaled (a failed, pending or stopped one has nothing to measure).
SCALABLE = (DeploymentStatus.DEPLOYING, DeploymentStatus.RUNNING, DeploymentStatus.DEGRADED)

#: ``scale_to(deployment_id, replicas, reason)``: True when the replicas changed.
ScaleTo = Callable[[str, int, str], Awaitable[bool]]


def decide(current: int, loads: Iterable[float | None], scale: Scale, last_change_ms: int | None, now_ms: int) -> int:
    """How many replicas a deployment should have (module docstring).

    Args:
        current: The replicas it has.
        loads: The CPU of its running instances, percent of one core; ``None`` where not known.
        scale: The manifest's ``[scale]``.
        last_change_ms: When its replicas last changed (epoch ms), ``None`` if never.
        now_ms: Now (epoch ms).
    """
    if last_change_ms is not None and now_ms - last_change_ms < scale.cooldown_s * 1000:
        return current
    known = [load for load in loads if load is not None]
    step = 0
    if known and sum(known) / len(known) > scale.cpu_percent:
        step = 1
    elif known and sum(known) / len(known) < scale.cpu_percent / 2:
        step = -1
    return min(max(current + step, scale.min), scale.max)


def instance_loads(beat: HeartbeatRecord | None, deployment: str) -> dict[int, float | None]:
    """The CPU of each replica of ``deployment`` a node's heartbeat reports (entries it cannot read are skipped)."""
    found: dict[int, float | None] = {}
    apps = beat.doc.get("apps") if beat is not None else None
    if not isinstance(apps, list):
        return found
    for raw in apps:
        try:
            load = InstanceLoad.model_validate(raw)
        except ValidationError:
            continue
        if load.deployment == deployment:
            found[load.replica] = load.cpu_pct
    return found


class Scaler:
    """Scales the deployments whose manifests have ``[scale]``, every :data:`TICK_S` seconds."""

    def __init__(self, store: AppStore, nodes: NodeStore, scale_to: ScaleTo) -> None:
        self._store = store
        self._nodes = nodes
        self._scale_to = scale_to
        self._manifests: dict[tuple[str, str, str], AppManifest | None] = {}
        #: Deployment id -> epoch ms of its last change (or of when this Scaler first saw it).
        self._changed: dict[str, int] = {}

    async def run(self, interval_s: float | None = None) -> None:
        """:meth:`tick` every ``interval_s`` (default :data:`TICK_S`) until cancelled; a failed tick is logged."""
        while True:
            await asyncio.sleep(TICK_S if interval_s is None else interval_s)
            try:
                await self.tick()
            except Exception:  # the store may be away for a moment; the next tick tries again
                log.exception("autoscaling failed")

    async def tick(self) -> None:
        """Look at every scalable deployment once and scale those whose loads ask for it."""
        active = await self._store.list_deployments(DeploymentQuery(statuses=SCALABLE))
        # Forget what is gone: deleted deployments, versions no active deployment runs.
        self._changed = {d.id: self._changed[d.id] for d in active if d.id in self._changed}
        versions = {(d.tenant, d.app, d.version) for d in active}
        self._manifests = {key: m for key, m in self._manifests.items() if key in versions}
        beats: dict[str, HeartbeatRecord | None] = {}
        now = now_ms()
        for deployment in active:
            scale = await self._scale_of(deployment)
            if scale is None or Rollout.of(deployment.placement) is not None:
                continue
            last = self._changed.setdefault(deployment.id, now)
            loads = await self._loads(deployment, beats)
            wanted = decide(deployment.replicas, loads, scale, last, now)
            if wanted == deployment.replicas:
                continue
            known = [load for load in loads if load is not None]
            average = f"{sum(known) / len(known):.0f}%" if known else "unknown"
            reason = (
                f"average CPU {average} of {len(known)} instance(s), target {scale.cpu_percent}% "
                f"(min {scale.min}, max {scale.max})"
            )
            if await self._scale_to(deployment.id, wanted, reason):
                self._changed[deployment.id] = now_ms()

    async def _scale_of(self, deployment: DeploymentRecord) -> Scale | None:
        key = (deployment.tenant, deployment.app, deployment.version)
        if key not in self._manifests:  # a pushed version is immutable: read its manifest once
            record = await self._store.get_version(*key)
            self._manifests[key] = None if record is None else AppManifest.model_validate_json(record.manifest)
        manifest = self._manifests[key]
        return None if manifest is None else manifest.scale

    async def _loads(
        self, deployment: DeploymentRecord, beats: dict[str, HeartbeatRecord | None]
    ) -> list[float | None]:
        entries: list[dict[str, Any]] = json.loads(deployment.instances)
        loads: list[float | None] = []
        for entry in entries:
            if entry.get("status") != "running":
                continue
            node = str(entry["node"])
            if node not in beats:
                beats[node] = await self._nodes.get_heartbeat(node)
            loads.append(instance_loads(beats[node], deployment.id).get(int(entry.get("replica", 0))))
        return loads

"""Deployments: an app version placed on the tenant's nodes, and each node told what it should run.

Creating a deployment decides its placement at once (:func:`hub.deploy.placement.place` over the tenant's
gateways, their latest heartbeats and the instances already placed on them, :mod:`hub.deploy.placing`). Placed,
it is ``deploying`` with one instance per chosen node; with no qualifying node it is ``pending`` with the reason,
and is placed again when a node of its tenant is heard and by a sweep (:mod:`hub.deploy.sweeps`). Each node's
desired set is published whenever a deployment on it starts or stops (:mod:`hub.deploy.desired`).

A deployment with a schedule is created ``scheduled`` and unplaced; :mod:`hub.deploy.schedules` starts and ends
its runs (:meth:`Deployments.start_run`, :meth:`Deployments.end_run`).

A deployment is updated to another version of its app by a rollout, instance by instance, rolled back by
itself when the new version fails (:mod:`hub.deploy.rollout`). The instances of a dead node move to other nodes
(:mod:`hub.deploy.relocation`); the links to apps that serve HTTP are :mod:`hub.deploy.links`.

One lock serialises the decisions of this process (instance reports and rollouts take it too); between hub
processes on one store the conditional status change (``expected=pending``) keeps a deployment from being placed
twice. A process that stops within a step leaves it for the next leader to finish (:mod:`hub.deploy.sweeps`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from typing import Any

from contracts.events import EventKind
from hub.apps.catalog import AppCatalog
from hub.broker.base import Publisher
from hub.clock import now_ms
from hub.deploy.desired import ACTIVE, DesiredSets, manifest_of, nodes_of
from hub.deploy.health import HealthThresholds
from hub.deploy.instances import summarise
from hub.deploy.links import Links, LinkTargets
from hub.deploy.placement import Needs
from hub.deploy.placing import Placer, new_instances, placement_doc
from hub.deploy.relocation import Moved, Relocation
from hub.deploy.rollout import DEFAULT_GRACE_S, Rollout, Rollouts
from hub.deploy.sweeps import SWEEP_S, Sweeps
from hub.errors import NotFound
from hub.events.service import Events
from hub.registry import DeviceRegistry
from hub.store.apps import (
    AppVersionRecord,
    DeploymentQuery,
    DeploymentRecord,
    DeploymentStatus,
    StaleStatus,
    Transition,
    new_deployment_id,
)
from hub.store.nodes import NodeStore

log = logging.getLogger(__name__)


class Deployments:
    """Creates, places, scales, lists and removes deployments; the way in to what the collaborators do."""

    def __init__(
        self,
        catalog: AppCatalog,
        registry: DeviceRegistry,
        nodes: NodeStore,
        publisher: Publisher,
        health: HealthThresholds | None = None,
        *,
        events: Events | None = None,
        lock: asyncio.Lock | None = None,
    ) -> None:
        """``lock``: :attr:`hub.deploy.instances.InstanceReports.lock` (default: one of its own);
        ``events`` records rollbacks."""
        self._catalog = catalog
        self._store = catalog.store
        self._lock = lock or asyncio.Lock()
        self._events = events
        self._placer = Placer(self._store, registry, nodes, health or HealthThresholds())
        self._desired = DesiredSets(self._store, registry, nodes, publisher)
        self._sweeps = Sweeps(self._store, self._placer, self._desired, self._lock, events)
        self._relocation = Relocation(self._store, self._placer, self._desired, self._lock)
        self._links = Links(self._store)
        self.rollouts = Rollouts(self._store, self._desired.publish, self._lock, events)

    async def create(
        self,
        tenant: str,
        app: str,
        version: str | None = None,
        replicas: int | None = None,
        *,
        schedule: str | None = None,
        scheduled: str = "scheduled",
        ts: int | None = None,
    ) -> DeploymentRecord:
        """Deploy ``app`` (its newest version unless ``version``) and tell the chosen nodes.

        With a ``schedule`` (JSON text, :mod:`hub.deploy.schedules`) it is stored ``scheduled`` for the
        reason ``scheduled`` instead (at ``ts``), unplaced: the scheduler places it when a run starts.

        Raises:
            NotFound: the tenant has no such app or version.
        """
        record = (
            (await self._catalog.app(tenant, app)).versions[0]
            if version is None
            else await self._catalog.version(tenant, app, version)
        )
        needs = Needs.of(manifest_of(record), replicas)
        if schedule is not None:
            return await self._create_scheduled(
                tenant, record, replicas=needs.wanted, schedule=schedule, reason=scheduled, ts=ts or now_ms()
            )
        async with self._lock:
            decision = await self._placer.decide(tenant, needs)
            ts = now_ms()
            status = DeploymentStatus.PENDING if decision.pending else DeploymentStatus.DEPLOYING
            deployment = DeploymentRecord(
                id=new_deployment_id(),
                tenant=tenant,
                app=record.name,
                version=record.version,
                replicas=needs.wanted,
                status=status,
                created=ts,
                updated=ts,
                placement=json.dumps(placement_doc(decision)),
                instances=json.dumps(new_instances(decision.chosen)),
            )
            stored = await self._store.create_deployment(deployment, decision.reason)
            await self._desired.publish(tenant, decision.chosen)
        log.info("deployment %s of %s %s (tenant %s): %s", stored.id, app, record.version, tenant, decision.reason)
        return stored

    async def _create_scheduled(
        self, tenant: str, record: AppVersionRecord, *, replicas: int, schedule: str, reason: str, ts: int
    ) -> DeploymentRecord:
        deployment = DeploymentRecord(
            id=new_deployment_id(),
            tenant=tenant,
            app=record.name,
            version=record.version,
            replicas=replicas,
            status=DeploymentStatus.SCHEDULED,
            created=ts,
            updated=ts,
            schedule=schedule,
        )
        stored = await self._store.create_deployment(deployment, reason)
        log.info("deployment %s of %s %s (tenant %s): %s", stored.id, record.name, record.version, tenant, reason)
        return stored

    async def start_run(self, deployment_id: str, reason: str, ts: int) -> None:
        """Start a run of a ``scheduled`` deployment at ``ts``: place it and tell the chosen nodes, as a new
        deployment is (``deploying``, or ``pending`` until a node qualifies); ``reason`` goes on the timeline.

        Raises:
            NotFound: no such deployment, or its version is gone.
            StaleStatus: it is no longer ``scheduled`` (another hub process started it, or it was deleted).
        """
        async with self._lock:
            deployment = await self.get(deployment_id)
            record = await self._store.get_version(deployment.tenant, deployment.app, deployment.version)
            if record is None:
                raise NotFound("app version", f"{deployment.app} {deployment.version}")
            needs = Needs.of(manifest_of(record), deployment.replicas)
            decision = await self._placer.decide(deployment.tenant, needs)
            status = DeploymentStatus.PENDING if decision.pending else DeploymentStatus.DEPLOYING
            change = Transition(ts, status, f"{reason}; {decision.reason}")
            await self._store.update_status(deployment_id, change, expected=DeploymentStatus.SCHEDULED)
            await self._store.set_placement(deployment_id, json.dumps(placement_doc(decision)), ts)
            await self._store.set_instances(deployment_id, json.dumps(new_instances(decision.chosen)), ts)
            # With the nodes of an earlier run whose end was cut short (see take_over), should it list any.
            await self._desired.publish(deployment.tenant, [*decision.chosen, *nodes_of(deployment)])

    async def end_run(self, deployment_id: str, change: Transition, *, expected: DeploymentStatus) -> None:
        """End a scheduled deployment's run: ``change`` (to ``scheduled`` or ``completed``) if its status is still
        ``expected``, its instances dropped and its nodes' desired sets published without them.

        Raises:
            NotFound: no such deployment.
            StaleStatus: its status is no longer ``expected`` (read it again).
        """
        async with self._lock:
            deployment = await self.get(deployment_id)
            await self._store.update_status(deployment_id, change, expected=expected)
            # The nodes first: until the instances are dropped the store names them, for a successor (take_over).
            await self._desired.publish(deployment.tenant, nodes_of(deployment))
            await self._store.set_instances(deployment_id, "[]", change.ts)

    async def update_version(
        self, deployment_id: str, version: str, *, grace_s: int = DEFAULT_GRACE_S, tenant: str | None = None
    ) -> DeploymentRecord:
        """Roll the deployment out to ``version`` of its app, instance by instance (:mod:`hub.deploy.rollout`).

        Raises:
            NotFound: no such deployment (of ``tenant``, if given), or no such version of its app.
            Conflict: the deployment is not active, runs ``version`` already, or is rolling out.
        """
        async with self._lock:
            deployment = await self.get(deployment_id, tenant)
            record = await self._store.get_version(deployment.tenant, deployment.app, version)
            if record is None:
                raise NotFound("app version", f"{deployment.app} {version}")
            return await self.rollouts.start(deployment, record, grace_s)

    async def scale_to(self, deployment_id: str, replicas: int, reason: str) -> bool:
        """Give an active deployment ``replicas`` instances (autoscaling, :mod:`hub.deploy.scaling`); ``reason``
        goes into the ``deployment.scaled`` event. Returns whether it changed.

        Extra instances go to qualifying nodes as placement ranks them now (numbered on after the node's
        others); fewer means the newest instances go. Nothing changes while it rolls out, when it is no longer
        active, or when no node qualifies for an extra instance. The timeline grows only when the status
        changes with the instances (e.g. ``running`` to ``deploying`` while a new instance starts).

        Raises:
            ValueError: ``replicas`` is below 1 (stopping is deleting).
        """
        if replicas < 1:
            raise ValueError(f"a deployment needs at least one replica, not {replicas}")
        async with self._lock:
            deployment = await self._store.get_deployment(deployment_id)
            if (
                deployment is None
                or deployment.status not in ACTIVE
                or deployment.status is DeploymentStatus.FAILED
                or Rollout.of(deployment.placement) is not None
            ):
                return False
            entries: list[dict[str, Any]] = json.loads(deployment.instances)
            extra = replicas - len(entries)
            if extra > 0:
                record = await self._store.get_version(deployment.tenant, deployment.app, deployment.version)
                if record is None:
                    return False
                decision = await self._placer.decide(deployment.tenant, Needs.of(manifest_of(record), extra))
                if decision.pending:
                    log.debug("deployment %s stays at %d replica(s): %s", deployment_id, len(entries), decision.reason)
                    return False
                numbers: Counter[str] = Counter()  # each node's next replica number
                for e in entries:
                    numbers[str(e["node"])] = max(numbers[str(e["node"])], int(e.get("replica", 0)) + 1)
                for node in decision.chosen:
                    entries.append({"node": node, "replica": numbers[node], "status": DeploymentStatus.DEPLOYING.value})
                    numbers[node] += 1
                touched = set(decision.chosen)
            else:
                removed, entries = entries[replicas:], entries[:replicas]
                touched = {str(e["node"]) for e in removed}
            if replicas == deployment.replicas and not touched:
                return False
            ts = now_ms()
            status, summary = summarise(entries)
            if status is not deployment.status:
                change = Transition(ts, status, f"scaled to {replicas} replica(s); {summary}")
                try:
                    await self._store.update_status(deployment_id, change, expected=deployment.status)
                except StaleStatus:
                    return False  # another hub process changed it meanwhile: decide again on the next look
            await self._store.set_instances(deployment_id, json.dumps(entries), ts)
            await self._store.set_replicas(deployment_id, replicas, ts)
            await self._desired.publish(deployment.tenant, touched)
        log.info("deployment %s scaled from %d to %d: %s", deployment_id, deployment.replicas, replicas, reason)
        if self._events is not None:
            self._events.record(
                EventKind.DEPLOYMENT_SCALED,
                deployment.tenant,
                message=f"{deployment.app} scaled from {deployment.replicas} to {replicas} replica(s): {reason}",
                deployment=deployment_id,
                data={"from": deployment.replicas, "to": replicas},
            )
        return True

    async def get(self, deployment_id: str, tenant: str | None = None) -> DeploymentRecord:
        """One deployment (of ``tenant``, if given); NotFound otherwise."""
        found = await self._store.get_deployment(deployment_id, tenant)
        if found is None:
            raise NotFound("deployment", deployment_id)
        return found

    async def list_deployments(self, tenant: str | None) -> list[DeploymentRecord]:
        """Deployments of one tenant, or of every tenant with ``None``, oldest first."""
        return await self._store.list_deployments(DeploymentQuery(tenant=tenant))

    async def delete(self, deployment_id: str, tenant: str | None = None) -> None:
        """Stop a deployment, tell its nodes to drop its instances, then remove it; NotFound if absent."""
        async with self._lock:
            deployment = await self.get(deployment_id, tenant)
            await self._store.update_status(deployment_id, Transition(now_ms(), DeploymentStatus.STOPPED, "deleted"))
            await self._desired.publish(deployment.tenant, nodes_of(deployment))
            await self._store.delete_deployment(deployment_id)
        log.info("deployment %s of %s (tenant %s) deleted", deployment_id, deployment.app, deployment.tenant)

    async def node_heard(self, node_id: str, tenant: str) -> None:
        """A node of ``tenant`` sent a heartbeat: place its pending deployments (:mod:`hub.deploy.sweeps`)."""
        await self._sweeps.node_heard(node_id, tenant)

    async def sweep(self) -> None:
        """Place pending and stalled deployments (:meth:`hub.deploy.sweeps.Sweeps.sweep`)."""
        await self._sweeps.sweep()

    async def take_over(self) -> None:
        """Finish the steps a former leader left half done (:meth:`hub.deploy.sweeps.Sweeps.take_over`)."""
        await self._sweeps.take_over()

    async def run_sweeps(self, interval_s: float = SWEEP_S) -> None:
        """Take over, then sweep every ``interval_s`` until cancelled (:meth:`hub.deploy.sweeps.Sweeps.run`)."""
        await self._sweeps.run(interval_s)

    async def republish(self) -> int:
        """Publish every node's desired set again; how many (:meth:`hub.deploy.desired.DesiredSets.republish`)."""
        return await self._desired.republish()

    async def desired_package(self, tenant: str, node: str, digest: str) -> AppVersionRecord:
        """The version with package ``digest`` that ``node`` should run now (:mod:`hub.deploy.desired`).

        Raises:
            NotFound: no active deployment of the tenant places that package on the node.
        """
        return await self._desired.package(tenant, node, digest)

    async def link(self, tenant: str, app: str) -> LinkTargets | None:
        """Where ``/apps/{tenant}/{app}/`` leads (:meth:`hub.deploy.links.Links.targets`)."""
        return await self._links.targets(tenant, app)

    async def link_path(self, deployment: DeploymentRecord) -> str | None:
        """The path of the deployment's link on the hub, if its app serves HTTP."""
        return await self._links.path(deployment)

    async def placed_nodes(self) -> dict[str, str]:
        """Every node that active deployments place instances on, with its tenant."""
        return await self._relocation.placed_nodes()

    async def move_off(self, node: str, tenant: str, why: str) -> list[Moved]:
        """Place elsewhere the instances ``node`` (dead) runs (:meth:`hub.deploy.relocation.Relocation.move_off`)."""
        return await self._relocation.move_off(node, tenant, why)

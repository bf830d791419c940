"""Deployments placed again: pending ones when a node is heard or in a sweep, and steps a stopped process left half
done.

A deployment ``pending`` for want of a qualifying node is placed again when a node of its tenant sends a heartbeat
to this process (:meth:`Sweeps.node_heard`, a store query by status, so a tenant without pending deployments costs
one indexed lookup per heartbeat), and by a sweep over every tenant every :data:`SWEEP_S` seconds
(:meth:`Sweeps.sweep`), for heartbeats stored by ingest replicas.

A step is a status change followed by writes of the instances and a publish to the nodes, so a process that dies
(or stops leading) in between leaves a mark in the store that the next leader finishes from: a deployment
``deploying`` without instances for :data:`STALLED_MS` is placed by :meth:`Sweeps.sweep`; an ended run or a
stopped deployment that still lists instances has them dropped, and every node's desired set is published again,
by :meth:`Sweeps.take_over` at the start of each term of office.
"""

from __future__ import annotations

import asyncio
import json
import logging

from contracts.events import EventKind
from hub.clock import now_ms
from hub.deploy.desired import DesiredSets, manifest_of, nodes_of
from hub.deploy.placement import Needs
from hub.deploy.placing import Placer, new_instances, placement_doc
from hub.events.service import Events
from hub.store.apps import AppStore, DeploymentQuery, DeploymentRecord, DeploymentStatus, StaleStatus, Transition

log = logging.getLogger(__name__)

#: Seconds between sweeps placing pending deployments of every tenant.
SWEEP_S = 5.0
#: A deployment ``deploying`` without instances this long (ms) was left by a process that stopped between the
#: status change and the placement (a live one writes both within milliseconds).
STALLED_MS = 10_000
#: Statuses whose deployments run nothing on the nodes (between runs, done, being deleted).
AT_REST = (DeploymentStatus.SCHEDULED, DeploymentStatus.COMPLETED, DeploymentStatus.STOPPED)


class Sweeps:
    """Places pending and stalled deployments and finishes half-done steps; see the module."""

    def __init__(
        self, store: AppStore, placer: Placer, desired: DesiredSets, lock: asyncio.Lock, events: Events | None
    ) -> None:
        self._store = store
        self._placer = placer
        self._desired = desired
        self._lock = lock
        self._events = events

    async def node_heard(self, node_id: str, tenant: str) -> None:
        """A node of ``tenant`` sent a heartbeat: place the tenant's pending deployments if there are any."""
        pending = await self._store.list_deployments(
            DeploymentQuery(tenant=tenant, statuses=(DeploymentStatus.PENDING,))
        )
        if pending:
            async with self._lock:
                await self._place_pending(tenant)

    async def sweep(self) -> None:
        """Place the pending deployments of every tenant that has some (heartbeats another process stored), and
        those left ``deploying`` without instances for :data:`STALLED_MS` (the leader's job: a process stopped
        between the status change and the placement, which two processes must not both finish)."""
        found = await self._store.list_deployments(
            DeploymentQuery(statuses=(DeploymentStatus.PENDING, DeploymentStatus.DEPLOYING))
        )
        for tenant in sorted({d.tenant for d in found if d.status is DeploymentStatus.PENDING}):
            async with self._lock:
                await self._place_pending(tenant)
        now = now_ms()
        for deployment in found:
            if _stalled(deployment, now):
                async with self._lock:
                    await self._resume(deployment.id)

    async def take_over(self) -> None:
        """Finish, from the store, the steps a process that led before may have left half done: the instances that
        ended runs and stopped deployments still list leave their nodes' desired sets (and the list), and every
        node's desired set is published again (instances stored but never published). At the start of a term."""
        for found in await self._store.list_deployments(DeploymentQuery(statuses=AT_REST)):
            if nodes_of(found):
                async with self._lock:
                    await self._drop_instances(found.id)
        nodes = await self._desired.republish()
        log.info("taking over: published the desired instances of %d node(s) again", nodes)

    async def run(self, interval_s: float = SWEEP_S) -> None:
        """:meth:`take_over` at once, then :meth:`sweep` every ``interval_s``, until cancelled (one term of office);
        a failure is logged and the same job runs again ``interval_s`` later."""
        job = self.take_over
        while True:
            try:
                await job()
                job = self.sweep
            except Exception:  # the store may be away for a moment; the next try may find it
                log.exception("placing deployments failed")
            await asyncio.sleep(interval_s)

    async def _place_pending(self, tenant: str) -> None:
        # Read again under the lock: another task may have placed them meanwhile.
        pending = await self._store.list_deployments(
            DeploymentQuery(tenant=tenant, statuses=(DeploymentStatus.PENDING,))
        )
        for deployment in pending:
            said = await self._place(deployment, "")
            if said is not None:
                log.info("pending deployment %s of tenant %s placed: %s", deployment.id, tenant, said)

    async def _resume(self, deployment_id: str) -> None:
        """Place a deployment left ``deploying`` without instances; a scheduled run's start gets the event the
        stopped scheduler never recorded (it records it only after the instances are written)."""
        deployment = await self._store.get_deployment(deployment_id)  # again, under the lock
        if deployment is None or not _stalled(deployment, now_ms()):
            return
        said = await self._place(deployment, "placement resumed (the hub process placing it stopped): ")
        if said is None:
            return
        log.warning("deployment %s of tenant %s: %s", deployment.id, deployment.tenant, said)
        timeline = deployment.timeline
        if deployment.schedule is not None and len(timeline) > 1 and timeline[-2].status is DeploymentStatus.SCHEDULED:
            self._record(EventKind.SCHEDULE_STARTED, deployment, timeline[-1].reason)

    async def _place(self, deployment: DeploymentRecord, prefix: str) -> str | None:
        """Place ``deployment`` (``pending``, or stalled ``deploying``) on the nodes that qualify now and tell
        them; the timeline's new reason (after ``prefix``), ``None`` when nothing changed."""
        record = await self._store.get_version(deployment.tenant, deployment.app, deployment.version)
        if record is None:  # the store keeps versions with deployments; nothing to place if it is gone
            return None
        decision = await self._placer.decide(deployment.tenant, Needs.of(manifest_of(record), deployment.replicas))
        placement = json.dumps(placement_doc(decision))
        ts = now_ms()
        if decision.pending and deployment.status is DeploymentStatus.PENDING:
            if placement != deployment.placement:  # new reasons, no new status: no timeline entry
                await self._store.set_placement(deployment.id, placement, ts)
            return None
        status = DeploymentStatus.PENDING if decision.pending else DeploymentStatus.DEPLOYING
        change = Transition(ts, status, prefix + decision.reason)
        try:
            await self._store.update_status(deployment.id, change, expected=deployment.status)
        except StaleStatus:
            return None  # another hub process placed or stopped it
        await self._store.set_placement(deployment.id, placement, ts)
        await self._store.set_instances(deployment.id, json.dumps(new_instances(decision.chosen)), ts)
        await self._desired.publish(deployment.tenant, decision.chosen)
        return change.reason

    async def _drop_instances(self, deployment_id: str) -> None:
        """Finish the end of a run (or a delete) cut short after its status change: tell the nodes, then drop the
        instances; a scheduled run's end gets the event the stopped scheduler never recorded."""
        deployment = await self._store.get_deployment(deployment_id)  # again, under the lock
        if deployment is None or deployment.status not in AT_REST or not nodes_of(deployment):
            return
        await self._desired.publish(deployment.tenant, nodes_of(deployment))
        await self._store.set_instances(deployment_id, "[]", now_ms())
        ended = deployment.timeline[-1].reason
        log.warning(
            "deployment %s is %s: its instances left the nodes only now (%s)", deployment_id, deployment.status, ended
        )
        if deployment.schedule is not None and deployment.status is not DeploymentStatus.STOPPED:
            self._record(EventKind.SCHEDULE_ENDED, deployment, ended)

    def _record(self, kind: EventKind, deployment: DeploymentRecord, message: str) -> None:
        if self._events is not None:
            self._events.record(kind, deployment.tenant, message=message, deployment=deployment.id)


def _stalled(deployment: DeploymentRecord, now: int) -> bool:
    """Left ``deploying`` without instances since :data:`STALLED_MS` ago (see :meth:`Sweeps.sweep`)."""
    return (
        deployment.status is DeploymentStatus.DEPLOYING
        and not nodes_of(deployment)
        and now - deployment.updated >= STALLED_MS
    )

"""Deployments: an app version placed on the tenant's nodes, and each node told what it should run.

Creating a deployment decides its placement at once (:func:`hub.deploy.placement.place` over the tenant's
gateways, their latest heartbeats and the instances already placed on them). Placed, it is ``deploying`` with
one instance per chosen node; with no qualifying node it is ``pending`` with the reason, and is placed again
when a node of its tenant sends a heartbeat to this process (:meth:`Deployments.node_heard`, a store query by
status, so a tenant without pending deployments costs one indexed lookup per heartbeat), and by a sweep over
every tenant every few seconds (:meth:`Deployments.sweep`), for heartbeats stored by ingest replicas.

Each node's desired set (:class:`contracts.apps.NodeDeployments`) is published retained on
``devices/{id}/deployments`` whenever a deployment on it starts or stops; the set is rebuilt from the store
each time, so it never drifts from what the store says. The agent side (fetching, installing and running
the instances) is :mod:`edge_agent.apps`; their reports move each deployment on (:mod:`hub.deploy.instances`).
Each desired instance names the node's sensors and actuators matched to its bindings, so the agent hands the
app exactly the sensors placement counted on.

A deployment with a schedule is created ``scheduled`` and unplaced; :mod:`hub.deploy.schedules` starts and ends
its runs (:meth:`Deployments.start_run`, :meth:`Deployments.end_run`).

A deployment is updated to another version of its app by a rollout, instance by instance, rolled back by
itself when the new version fails (:mod:`hub.deploy.rollout`); meanwhile each instance entry names the version
it runs, and the desired sets and package downloads follow each entry's own version.

One lock serialises the decisions of this process (instance reports and rollouts take it too); between hub
processes on one store the conditional status change (``expected=pending``) keeps a deployment from being placed
twice.

A step is a status change followed by writes of the instances and a publish to the nodes, so a process that dies
(or stops leading) in between leaves a mark in the store that the next leader finishes from: a deployment
``deploying`` without instances for :data:`STALLED_MS` is placed by :meth:`Deployments.sweep`; an ended run or
a stopped deployment that still lists instances has them dropped, and every node's desired set is published
again, by :meth:`Deployments.take_over` at the start of each term of office.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from contracts.apps import AppManifest, DesiredInstance, NodeDeployments
from contracts.devices import Device, DeviceKind
from contracts.events import EventKind
from contracts.topics import deployments_topic
from hub.apps.catalog import AppCatalog
from hub.broker.base import Publisher
from hub.clock import now_ms
from hub.deploy.health import HealthThresholds
from hub.deploy.instances import summarise
from hub.deploy.placement import Decision, Needs, NodeView, assign, node_view, place
from hub.deploy.rollout import DEFAULT_GRACE_S, Rollout, Rollouts, entry_version
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
from hub.store.registry import DeviceQuery

log = logging.getLogger(__name__)

#: Statuses whose instances the nodes should run (a failed one too: its nodes keep them, reporting why).
ACTIVE = (DeploymentStatus.DEPLOYING, DeploymentStatus.RUNNING, DeploymentStatus.DEGRADED, DeploymentStatus.FAILED)
#: Seconds between sweeps placing pending deployments of every tenant.
SWEEP_S = 5.0
#: A deployment ``deploying`` without instances this long (ms) was left by a process that stopped between the
#: status change and the placement (a live one writes both within milliseconds).
STALLED_MS = 10_000
#: Statuses whose deployments run nothing on the nodes (between runs, done, being deleted).
AT_REST = (DeploymentStatus.SCHEDULED, DeploymentStatus.COMPLETED, DeploymentStatus.STOPPED)
#: Gateways read from the registry per page while gathering the candidate nodes.
_PAGE = 500


def package_url(node: str, digest: str) -> str:
    """Where a node fetches a package: a path on the hub's URL (the agent authenticates as its device)."""
    return f"/api/v1/nodes/{node}/packages/{digest}"


def link_path(tenant: str, app: str) -> str:
    """Where an app's link lives on the hub."""
    return f"/apps/{tenant}/{app}/"


def placement_doc(decision: Decision) -> dict[str, Any]:
    """The ``placement`` a deployment keeps: the decision's reason and one entry per candidate node."""
    return {
        "reason": decision.reason,
        "candidates": [
            {"node": c.node, "accepted": c.accepted, "reason": c.reason, "rank": c.rank} for c in decision.candidates
        ],
    }


@dataclass(frozen=True, slots=True)
class LinkTargets:
    """Where an app's link leads: its running instances (``(deployment, node, replica)``) serving ``service``."""

    public: bool
    service: str
    instances: list[tuple[str, str, int]]


@dataclass(frozen=True, slots=True)
class Moved:
    """A deployment whose instances left a dead node: the nodes they went to (empty: nowhere), and why."""

    deployment: str
    to: list[str]
    reason: str


class Deployments:
    """Creates, places, lists and removes deployments, and publishes each node's desired instances."""

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
        self._registry = registry
        self._nodes = nodes
        self._publisher = publisher
        self._health = health or HealthThresholds()
        self._lock = lock or asyncio.Lock()
        self._events = events
        self.rollouts = Rollouts(self._store, self._publish_nodes, self._lock, events)

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
        needs = Needs.of(_manifest(record), replicas)
        if schedule is not None:
            return await self._create_scheduled(
                tenant, record, replicas=needs.wanted, schedule=schedule, reason=scheduled, ts=ts or now_ms()
            )
        async with self._lock:
            decision = place(needs, await self._node_views(tenant))
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
                instances=json.dumps(_instances(decision.chosen)),
            )
            stored = await self._store.create_deployment(deployment, decision.reason)
            await self._publish_nodes(tenant, decision.chosen)
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
            needs = Needs.of(_manifest(record), deployment.replicas)
            decision = place(needs, await self._node_views(deployment.tenant))
            status = DeploymentStatus.PENDING if decision.pending else DeploymentStatus.DEPLOYING
            change = Transition(ts, status, f"{reason}; {decision.reason}")
            await self._store.update_status(deployment_id, change, expected=DeploymentStatus.SCHEDULED)
            await self._store.set_placement(deployment_id, json.dumps(placement_doc(decision)), ts)
            await self._store.set_instances(deployment_id, json.dumps(_instances(decision.chosen)), ts)
            # With the nodes of an earlier run whose end was cut short (see take_over), should it list any.
            await self._publish_nodes(deployment.tenant, [*decision.chosen, *_nodes_of(deployment)])

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
            await self._publish_nodes(deployment.tenant, _nodes_of(deployment))
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
                decision = place(Needs.of(_manifest(record), extra), await self._node_views(deployment.tenant))
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
            await self._publish_nodes(deployment.tenant, touched)
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
            await self._publish_nodes(deployment.tenant, _nodes_of(deployment))
            await self._store.delete_deployment(deployment_id)
        log.info("deployment %s of %s (tenant %s) deleted", deployment_id, deployment.app, deployment.tenant)

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
            if _nodes_of(found):
                async with self._lock:
                    await self._drop_instances(found.id)
        nodes = await self.republish()
        log.info("taking over: published the desired instances of %d node(s) again", nodes)

    async def run_sweeps(self, interval_s: float = SWEEP_S) -> None:
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

    async def link(self, tenant: str, app: str) -> LinkTargets | None:
        """Where ``/apps/{tenant}/{app}/`` leads; ``None`` when no active deployment of the app serves HTTP.

        Every running instance of every active deployment of the app counts (two versions side by side share
        the link); ``public`` and the service are the newest deployment's.
        """
        active = await self._store.list_deployments(DeploymentQuery(tenant=tenant, app=app, statuses=ACTIVE))
        found: LinkTargets | None = None
        for deployment in sorted(active, key=lambda d: d.created, reverse=True):
            record = await self._store.get_version(tenant, deployment.app, deployment.version)
            if record is None:
                continue
            service = _manifest(record).default_service()
            if service.http is None:
                continue
            if found is None:
                found = LinkTargets(service.http.public, service.name, [])
            found.instances.extend(
                (deployment.id, str(e["node"]), int(e.get("replica", 0)))
                for e in json.loads(deployment.instances)
                if e.get("status") == "running"
            )
        return found

    async def link_path(self, deployment: DeploymentRecord) -> str | None:
        """The path of the deployment's link on the hub, if its app serves HTTP."""
        record = await self._store.get_version(deployment.tenant, deployment.app, deployment.version)
        if record is None or _manifest(record).default_service().http is None:
            return None
        return link_path(deployment.tenant, deployment.app)

    async def desired_package(self, tenant: str, node: str, digest: str) -> AppVersionRecord:
        """The app version with package ``digest`` that ``node`` of ``tenant`` should run now.

        Raises:
            NotFound: no active deployment of the tenant places that package on the node (whether the package
                exists elsewhere is not told).
        """
        active = await self._store.list_deployments(DeploymentQuery(tenant=tenant, statuses=ACTIVE))
        for deployment in active:
            entries = json.loads(deployment.instances)
            versions = {entry_version(e, deployment.version) for e in entries if e["node"] == node}
            for version in sorted(versions):  # during a rollout: the old and the new one
                record = await self._store.get_version(tenant, deployment.app, version)
                if record is not None and record.digest == digest:
                    return record
        raise NotFound("package", digest)

    async def republish(self) -> int:
        """Publish every node's desired set again (the embedded broker forgets retained messages)."""
        active = await self._store.list_deployments(DeploymentQuery(statuses=ACTIVE))
        nodes = {(d.tenant, node) for d in active for node in _nodes_of(d)}
        for tenant, node in sorted(nodes):
            await self._publish_nodes(tenant, [node])
        return len(nodes)

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
        decision = place(Needs.of(_manifest(record), deployment.replicas), await self._node_views(deployment.tenant))
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
        await self._store.set_instances(deployment.id, json.dumps(_instances(decision.chosen)), ts)
        await self._publish_nodes(deployment.tenant, decision.chosen)
        return change.reason

    async def _drop_instances(self, deployment_id: str) -> None:
        """Finish the end of a run (or a delete) cut short after its status change: tell the nodes, then drop the
        instances; a scheduled run's end gets the event the stopped scheduler never recorded."""
        deployment = await self._store.get_deployment(deployment_id)  # again, under the lock
        if deployment is None or deployment.status not in AT_REST or not _nodes_of(deployment):
            return
        await self._publish_nodes(deployment.tenant, _nodes_of(deployment))
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

    async def placed_nodes(self) -> dict[str, str]:
        """Every node that active deployments place instances on, with its tenant."""
        active = await self._store.list_deployments(DeploymentQuery(statuses=ACTIVE))
        return {node: d.tenant for d in active for node in _nodes_of(d)}

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
                decision = place(Needs.of(_manifest(record), len(lost)), await self._node_views(tenant))
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
            await self._publish_nodes(tenant, touched)
        return moved

    async def _node_views(self, tenant: str) -> list[NodeView]:
        active = await self._store.list_deployments(DeploymentQuery(tenant=tenant, statuses=ACTIVE))
        running = Counter(node for d in active for node in _nodes_of(d, distinct=False))
        views = []
        now = now_ms()
        for device in await self._gateways(tenant):
            beat = await self._nodes.get_heartbeat(device.id)
            health = self._health.of(beat.received if beat is not None else None, now)
            views.append(node_view(device, beat, instances=running[device.id], health=health))
        return views

    async def _node_view(self, node: str) -> NodeView:
        """The node as placement sees it now (a node deleted meanwhile: no sensors to bind)."""
        try:
            device = await self._registry.get(node)
        except NotFound:
            return NodeView(id=node, unavailable="deleted")
        return node_view(device, await self._nodes.get_heartbeat(node))

    async def _gateways(self, tenant: str) -> list[Device]:
        found: list[Device] = []
        while True:
            page, total = await self._registry.list(
                DeviceQuery(tenant=tenant, kind=DeviceKind.GATEWAY, limit=_PAGE, offset=len(found))
            )
            found += page
            if not page or len(found) >= total:
                return found

    async def _publish_nodes(self, tenant: str, nodes: Iterable[str]) -> None:
        targets = sorted(set(nodes))
        if not targets:
            return
        active = await self._store.list_deployments(DeploymentQuery(tenant=tenant, statuses=ACTIVE))
        versions: dict[tuple[str, str], AppVersionRecord | None] = {}
        for node in targets:
            view = await self._node_view(node)
            instances: list[DesiredInstance] = []
            for deployment in active:
                for entry in json.loads(deployment.instances):
                    if entry["node"] != node:
                        continue
                    key = (deployment.app, entry_version(entry, deployment.version))
                    if key not in versions:
                        versions[key] = await self._store.get_version(tenant, *key)
                    record = versions[key]
                    if record is not None:  # each instance at its own version (a rollout runs old and new)
                        instances.append(_desired(view, deployment, record, int(entry.get("replica", 0))))
            message = NodeDeployments(version=now_ms(), instances=instances)
            await self._publisher.publish(
                deployments_topic(node), message.model_dump_json(by_alias=True).encode(), qos=1, retain=True
            )
            log.debug("published %d desired instance(s) to node %s", len(instances), node)


def _manifest(record: AppVersionRecord) -> AppManifest:
    return AppManifest.model_validate_json(record.manifest)


def _instances(chosen: list[str]) -> list[dict[str, Any]]:
    """One entry per chosen node id (repeated ids: several replicas on that node, numbered per node)."""
    seen: Counter[str] = Counter()
    entries = []
    for node in chosen:
        entries.append({"node": node, "replica": seen[node], "status": DeploymentStatus.DEPLOYING.value})
        seen[node] += 1
    return entries


def _stalled(deployment: DeploymentRecord, now: int) -> bool:
    """Left ``deploying`` without instances since :data:`STALLED_MS` ago (see :meth:`Deployments.sweep`)."""
    return (
        deployment.status is DeploymentStatus.DEPLOYING
        and not _nodes_of(deployment)
        and now - deployment.updated >= STALLED_MS
    )


def _nodes_of(deployment: DeploymentRecord, *, distinct: bool = True) -> list[str]:
    nodes = [str(instance["node"]) for instance in json.loads(deployment.instances)]
    return sorted(set(nodes)) if distinct else nodes


def _desired(node: NodeView, deployment: DeploymentRecord, record: AppVersionRecord, replica: int) -> DesiredInstance:
    manifest = _manifest(record)
    bound = assign(Needs.of(manifest), node)
    return DesiredInstance(
        deployment=deployment.id,
        replica=replica,
        app=deployment.app,
        version=record.version,
        digest=record.digest,
        package_url=package_url(node.id, record.digest),
        services=manifest.all_services(),
        wires=manifest.wires,
        env=manifest.env,
        sensors=bound["sensor"],
        actuators=bound["actuator"],
    )

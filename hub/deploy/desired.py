"""What each node is told to run: its desired set, published retained, and the packages it may fetch.

Each node's desired set (:class:`contracts.apps.NodeDeployments`) is published retained on
``devices/{id}/deployments`` whenever a deployment on it starts or stops; the set is rebuilt from the store
each time, so it never drifts from what the store says. The agent side (fetching, installing and running
the instances) is :mod:`edge_agent.apps`; their reports move each deployment on (:mod:`hub.deploy.instances`).
Each desired instance names the node's sensors and actuators matched to its bindings, so the agent hands the
app exactly the sensors placement counted on. During a rollout each instance entry names the version it runs,
and the desired sets and package downloads follow each entry's own version.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from contracts.apps import AppManifest, DesiredInstance, NodeDeployments
from contracts.topics import deployments_topic
from hub.broker.base import Publisher
from hub.clock import now_ms
from hub.deploy.placement import Needs, NodeView, assign, node_view
from hub.deploy.rollout import entry_version
from hub.errors import NotFound
from hub.registry import DeviceRegistry
from hub.store.apps import AppStore, AppVersionRecord, DeploymentQuery, DeploymentRecord, DeploymentStatus
from hub.store.nodes import NodeStore

log = logging.getLogger(__name__)

#: Statuses whose instances the nodes should run (a failed one too: its nodes keep them, reporting why).
ACTIVE = (DeploymentStatus.DEPLOYING, DeploymentStatus.RUNNING, DeploymentStatus.DEGRADED, DeploymentStatus.FAILED)


def package_url(node: str, digest: str) -> str:
    """Where a node fetches a package: a path on the hub's URL (the agent authenticates as its device)."""
    return f"/api/v1/nodes/{node}/packages/{digest}"


def manifest_of(record: AppVersionRecord) -> AppManifest:
    """The manifest an app version was stored with."""
    return AppManifest.model_validate_json(record.manifest)


def nodes_of(deployment: DeploymentRecord, *, distinct: bool = True) -> list[str]:
    """The nodes the deployment's instances are on: sorted, or one per instance with ``distinct=False``."""
    nodes = [str(instance["node"]) for instance in json.loads(deployment.instances)]
    return sorted(set(nodes)) if distinct else nodes


class DesiredSets:
    """Publishes each node's desired instances, rebuilt from the store, and tells which packages a node may fetch."""

    def __init__(self, store: AppStore, registry: DeviceRegistry, nodes: NodeStore, publisher: Publisher) -> None:
        self._store = store
        self._registry = registry
        self._nodes = nodes
        self._publisher = publisher

    async def publish(self, tenant: str, nodes: Iterable[str]) -> None:
        """Publish the desired set of each of ``nodes`` (of ``tenant``), as the store has it now."""
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

    async def republish(self) -> int:
        """Publish every node's desired set again (the embedded broker forgets retained messages)."""
        active = await self._store.list_deployments(DeploymentQuery(statuses=ACTIVE))
        nodes = {(d.tenant, node) for d in active for node in nodes_of(d)}
        for tenant, node in sorted(nodes):
            await self.publish(tenant, [node])
        return len(nodes)

    async def package(self, tenant: str, node: str, digest: str) -> AppVersionRecord:
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

    async def _node_view(self, node: str) -> NodeView:
        """The node as placement sees it now (a node deleted meanwhile: no sensors to bind)."""
        try:
            device = await self._registry.get(node)
        except NotFound:
            return NodeView(id=node, unavailable="deleted")
        return node_view(device, await self._nodes.get_heartbeat(node))


def _desired(node: NodeView, deployment: DeploymentRecord, record: AppVersionRecord, replica: int) -> DesiredInstance:
    manifest = manifest_of(record)
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

"""Links to deployed apps: where ``/apps/{tenant}/{app}/`` leads, from the active deployments of an app that
serves HTTP (the routing and proxying are :mod:`hub.links`)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from hub.deploy.desired import ACTIVE, manifest_of
from hub.store.apps import AppStore, DeploymentQuery, DeploymentRecord


def link_path(tenant: str, app: str) -> str:
    """Where an app's link lives on the hub."""
    return f"/apps/{tenant}/{app}/"


@dataclass(frozen=True, slots=True)
class LinkTargets:
    """Where an app's link leads: its running instances (``(deployment, node, replica)``) serving ``service``."""

    public: bool
    service: str
    instances: list[tuple[str, str, int]]


class Links:
    """Reads the links of deployed apps from the store."""

    def __init__(self, store: AppStore) -> None:
        self._store = store

    async def targets(self, tenant: str, app: str) -> LinkTargets | None:
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
            service = manifest_of(record).default_service()
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

    async def path(self, deployment: DeploymentRecord) -> str | None:
        """The path of the deployment's link on the hub, if its app serves HTTP."""
        record = await self._store.get_version(deployment.tenant, deployment.app, deployment.version)
        if record is None or manifest_of(record).default_service().http is None:
            return None
        return link_path(deployment.tenant, deployment.app)

"""Apps, versions and deployments of the MongoDB store (:class:`hub.store.apps.AppStore`).

``app_versions`` holds one document per pushed version (unique on tenant, name and version); ``deployments`` one
per deployment (``_id`` its id) with its timeline as an array, so a status change and its transition are one
``find_one_and_update``, conditional on the expected status in the same filter (compare and set: a stale writer
matches nothing and gets :class:`StaleStatus`). The indexes each query uses are in hub/store/mongo/schema.py.

Without transactions, "a version in use cannot be deleted" rests on pins: a version document lists the
deployments that use it (``used_by``). A deployment pins its version before it is inserted or moved to it, and
unpins after it is deleted or moved away; a version is deleted only by a filter that requires no pins, in one
atomic step. Every order of concurrent steps therefore leaves no deployment without its version. A hub process
that dies between the two steps of a delete or a move leaves a pin behind, which keeps the version (the safe side)
until an operator removes the pin.

Both rest on MongoDB's atomic single-document updates (a filter and its change are one step). FerretDB 1.24 on
SQLite, the server the tests run, applies them in two steps (its issue 3040), so there two processes changing
one deployment or pinning one version at the same moment can both pass; sequential writes from several processes
behave as on MongoDB.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, ReturnDocument

from hub.errors import Conflict, NotFound
from hub.store.apps import (
    AppRecord,
    AppVersionRecord,
    DeploymentQuery,
    DeploymentRecord,
    DeploymentStatus,
    StaleStatus,
    Transition,
    newest_first,
)
from hub.store.mongo.database import Document, MongoDatabase, translated
from hub.store.mongo.filters import equal

VERSIONS = "app_versions"
DEPLOYMENTS = "deployments"
_UNUSED = {"used_by": {"$size": 0}}
_USED = {"used_by.0": {"$exists": True}}


def _version(doc: Document) -> AppVersionRecord:
    return AppVersionRecord(
        doc["tenant"], doc["name"], doc["version"], doc["digest"], doc["size"], doc["manifest"], doc["created"],
        doc["created_by"],
    )  # fmt: skip


def _apps(docs: list[Document]) -> list[AppRecord]:
    """Versions (sorted by tenant and name) grouped into apps."""
    grouped: dict[tuple[str, str], list[AppVersionRecord]] = {}
    for doc in docs:
        grouped.setdefault((doc["tenant"], doc["name"]), []).append(_version(doc))
    return [AppRecord(tenant, name, newest_first(versions)) for (tenant, name), versions in grouped.items()]


def _transition(change: Transition) -> Document:
    return {"ts": change.ts, "status": change.status.value, "reason": change.reason}


def _deployment(doc: Document) -> DeploymentRecord:
    return DeploymentRecord(
        id=doc["_id"],
        tenant=doc["tenant"],
        app=doc["app"],
        version=doc["version"],
        replicas=doc["replicas"],
        status=DeploymentStatus(doc["status"]),
        created=doc["created"],
        updated=doc["updated"],
        placement=doc["placement"],
        instances=doc["instances"],
        schedule=doc["schedule"],
        timeline=tuple(Transition(t["ts"], DeploymentStatus(t["status"]), t["reason"]) for t in doc["timeline"]),
    )


def _key(tenant: str, name: str, version: str) -> Document:
    return {"tenant": tenant, "name": name, "version": version}


class MongoApps:
    """App versions in ``app_versions``; deployments with their timelines in ``deployments``."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    async def add_version(self, version: AppVersionRecord) -> None:
        v = version
        doc = {
            **_key(v.tenant, v.name, v.version),
            "digest": v.digest,
            "size": v.size,
            "manifest": v.manifest,
            "created": v.created,
            "created_by": v.created_by,
            "used_by": [],
        }
        async with translated("app version", f"{v.name}@{v.version}"):
            await self._db.collection(VERSIONS).insert_one(doc)

    async def get_version(self, tenant: str, name: str, version: str) -> AppVersionRecord | None:
        async with translated():
            doc = await self._db.collection(VERSIONS).find_one(_key(tenant, name, version))
        return None if doc is None else _version(doc)

    async def get_app(self, tenant: str, name: str) -> AppRecord | None:
        apps = await self._find({"tenant": tenant, "name": name})
        return apps[0] if apps else None

    async def list_apps(self, tenant: str | None) -> list[AppRecord]:
        return await self._find(equal(tenant=tenant))

    async def _find(self, found: Document) -> list[AppRecord]:
        cursor = self._db.collection(VERSIONS).find(found).sort([("tenant", ASCENDING), ("name", ASCENDING)])
        async with translated():
            return _apps(await cursor.to_list())

    async def delete_version(self, tenant: str, name: str, version: str) -> bool:
        versions = self._db.collection(VERSIONS)
        async with translated():
            removed = await versions.delete_one({**_key(tenant, name, version), **_UNUSED})
            if removed.deleted_count:
                return True
            pinned = await versions.find_one(_key(tenant, name, version))
        if pinned is None:
            return False
        raise _in_use(f"app {name}@{version}", pinned)

    async def delete_app(self, tenant: str, name: str) -> bool:
        """Refuses while a version is pinned; a deployment pinning one between the check and the delete keeps
        that version (the others go) and is reported as the conflict."""
        versions = self._db.collection(VERSIONS)
        app = {"tenant": tenant, "name": name}
        async with translated():
            pinned = await versions.find_one({**app, **_USED})
            if pinned is not None:
                raise _in_use(f"app {name!r}", pinned)
            removed = await versions.delete_many({**app, **_UNUSED})
            pinned = await versions.find_one({**app, **_USED})
        if pinned is not None:
            raise _in_use(f"app {name!r}", pinned)
        return removed.deleted_count > 0

    async def create_deployment(self, deployment: DeploymentRecord, reason: str) -> DeploymentRecord:
        d = deployment
        await self._pin(d.tenant, d.app, d.version, d.id)
        doc = {
            "_id": d.id,
            "tenant": d.tenant,
            "app": d.app,
            "version": d.version,
            "replicas": d.replicas,
            "status": d.status.value,
            "created": d.created,
            "updated": d.updated,
            "placement": d.placement,
            "instances": d.instances,
            "schedule": d.schedule,
            "timeline": [_transition(Transition(d.created, d.status, reason))],
        }
        try:
            async with translated("deployment", d.id):
                await self._db.collection(DEPLOYMENTS).insert_one(doc)
        except Conflict:
            async with translated():
                taken = await self._db.collection(DEPLOYMENTS).find_one({"_id": d.id})
            if taken is None or (taken["tenant"], taken["app"], taken["version"]) != (d.tenant, d.app, d.version):
                await self._unpin(d.tenant, d.app, d.version, d.id)  # the pin was ours, not the other's
            raise
        return _deployment(doc)

    async def get_deployment(self, deployment_id: str, tenant: str | None = None) -> DeploymentRecord | None:
        async with translated():
            doc = await self._db.collection(DEPLOYMENTS).find_one({"_id": deployment_id, **equal(tenant=tenant)})
        return None if doc is None else _deployment(doc)

    async def list_deployments(self, query: DeploymentQuery) -> list[DeploymentRecord]:
        found = equal(tenant=query.tenant, app=query.app)
        if query.statuses:
            found["status"] = {"$in": [s.value for s in query.statuses]}
        cursor = self._db.collection(DEPLOYMENTS).find(found).sort([("created", ASCENDING), ("_id", ASCENDING)])
        async with translated():
            return [_deployment(doc) for doc in await cursor.to_list()]

    async def update_status(
        self, deployment_id: str, change: Transition, *, expected: DeploymentStatus | None = None
    ) -> DeploymentRecord:
        found: Document = {"_id": deployment_id}
        if expected is not None:
            found["status"] = expected.value
        deployments = self._db.collection(DEPLOYMENTS)
        async with translated():
            doc = await deployments.find_one_and_update(
                found,
                {
                    "$set": {"status": change.status.value, "updated": change.ts},
                    "$push": {"timeline": _transition(change)},
                },
                return_document=ReturnDocument.AFTER,
            )
            if doc is not None:
                return _deployment(doc)
            current = await deployments.find_one({"_id": deployment_id}, {"status": 1})
        if current is None:
            raise NotFound("deployment", deployment_id)
        assert expected is not None  # an unconditional change misses only a deployment that is gone
        raise StaleStatus(deployment_id, expected, DeploymentStatus(current["status"]))

    async def set_placement(self, deployment_id: str, placement: str, ts: int) -> bool:
        return await self._set(deployment_id, {"placement": placement, "updated": ts})

    async def set_instances(self, deployment_id: str, instances: str, ts: int) -> bool:
        return await self._set(deployment_id, {"instances": instances, "updated": ts})

    async def set_replicas(self, deployment_id: str, replicas: int, ts: int) -> bool:
        return await self._set(deployment_id, {"replicas": replicas, "updated": ts})

    async def set_version(self, deployment_id: str, version: str, ts: int) -> bool:
        """Pins the new version, moves the deployment if it still is on the version read, unpins the old one; a
        concurrent move makes it read again."""
        deployments = self._db.collection(DEPLOYMENTS)
        while True:
            async with translated():
                doc = await deployments.find_one({"_id": deployment_id})
            if doc is None:
                return False
            tenant, app, old = doc["tenant"], doc["app"], doc["version"]
            await self._pin(tenant, app, version, deployment_id)
            async with translated():
                moved = await deployments.update_one(
                    {"_id": deployment_id, "version": old}, {"$set": {"version": version, "updated": ts}}
                )
            if moved.matched_count:
                if old != version:
                    await self._unpin(tenant, app, old, deployment_id)
                return True
            if old != version:  # moved or deleted meanwhile: drop our pin unless it is on that version now
                async with translated():
                    now = await deployments.find_one({"_id": deployment_id}, {"version": 1})
                if now is None or now["version"] != version:
                    await self._unpin(tenant, app, version, deployment_id)

    async def delete_deployment(self, deployment_id: str, tenant: str | None = None) -> bool:
        async with translated():
            doc = await self._db.collection(DEPLOYMENTS).find_one_and_delete(
                {"_id": deployment_id, **equal(tenant=tenant)}
            )
        if doc is None:
            return False
        await self._unpin(doc["tenant"], doc["app"], doc["version"], deployment_id)
        return True

    async def _set(self, deployment_id: str, fields: dict[str, Any]) -> bool:
        async with translated():
            changed = await self._db.collection(DEPLOYMENTS).update_one({"_id": deployment_id}, {"$set": fields})
        return changed.matched_count == 1

    async def _pin(self, tenant: str, app: str, version: str, deployment_id: str) -> None:
        """Mark the version used by the deployment; :class:`NotFound` if there is no such version."""
        async with translated():
            pinned = await self._db.collection(VERSIONS).update_one(
                _key(tenant, app, version), {"$addToSet": {"used_by": deployment_id}}
            )
        if not pinned.matched_count:
            raise NotFound("app version", f"{app}@{version}")

    async def _unpin(self, tenant: str, app: str, version: str, deployment_id: str) -> None:
        async with translated():
            await self._db.collection(VERSIONS).update_one(
                _key(tenant, app, version), {"$pull": {"used_by": deployment_id}}
            )


def _in_use(what: str, pinned: Document) -> Conflict:
    return Conflict(f"{what} is used by deployment {pinned['used_by'][0]!r}: delete the deployment first")

"""Pushed app versions: a package checked, kept in the blob store, and recorded in the apps' store.

The package goes to the blob store first and the record second, so a recorded version always has its
package; a failed record write removes the blob again. Deleting goes the other way: the record first (the
store refuses while a deployment uses the version), the blob after, so no record ever points at nothing.

Blob keys are ``apps/{tenant}/{name}/{digest}.zip``. The digest rather than the version names the file:
versions may hold ``+`` and upper-case letters, which blob keys do not take, and the manifest inside the zip
names the version, so one digest is one name and version of a tenant. Tenant ids made of ``[a-z0-9-]`` are
used as they are; any other (upper case, ``_``, ``.``) becomes ``x.`` and its UTF-8 in hex, a form no plain
tenant segment has, since plain ones hold no ``.``.
"""

from __future__ import annotations

import asyncio
import logging
import re

from hub.apps.package import Package, PackageLimits, inspect_package
from hub.blobs.base import BlobStore
from hub.clock import now_ms
from hub.errors import Conflict, NotFound
from hub.store.apps import AppRecord, AppStore, AppVersionRecord

log = logging.getLogger(__name__)

_PLAIN_TENANT = re.compile(r"[a-z0-9][a-z0-9-]*")


def package_key(tenant: str, name: str, digest: str) -> str:
    """The blob key of the package with ``digest`` of app ``name`` of ``tenant``."""
    segment = tenant if _PLAIN_TENANT.fullmatch(tenant) else "x." + tenant.encode().hex()
    return f"apps/{segment}/{name}/{digest}.zip"


class AppCatalog:
    """The app versions of every tenant, their packages in ``blobs`` and their records in ``store``."""

    def __init__(self, store: AppStore, blobs: BlobStore, limits: PackageLimits | None = None) -> None:
        self.store = store
        self.blobs = blobs
        self.limits = limits or PackageLimits()

    async def push(self, tenant: str, data: bytes, pushed_by: str) -> AppVersionRecord:
        """Check the package ``data`` completely, then store it and record its version.

        Raises:
            InvalidPackage: every problem of the package; nothing is stored.
            Conflict: the tenant already has this name and version.
        """
        # Inflating and checking up to the uncompressed limit is CPU work: off the event loop.
        package = await asyncio.to_thread(inspect_package, data, self.limits)
        info = package.manifest.app
        if await self.store.get_version(tenant, info.name, info.version) is not None:
            raise Conflict(f"app {info.name} {info.version} exists; a pushed version is immutable, push a new one")
        record = _record(tenant, package, pushed_by)
        key = package_key(tenant, info.name, package.digest)
        await self.blobs.put(key, data, digest=package.digest)
        try:
            await self.store.add_version(record)
        except BaseException:
            await self._forget_blob(tenant, record, key)
            raise
        log.info("app %s %s of tenant %s pushed (%d bytes)", info.name, info.version, tenant, len(data))
        return record

    async def _forget_blob(self, tenant: str, record: AppVersionRecord, key: str) -> None:
        # A concurrent push of the very same bytes may have won the record and share the blob: keep it then.
        winner = await self.store.get_version(tenant, record.name, record.version)
        if winner is None or winner.digest != record.digest:
            await self.blobs.delete(key)

    async def version(self, tenant: str, name: str, version: str) -> AppVersionRecord:
        """One version; NotFound if the tenant has no such app version."""
        found = await self.store.get_version(tenant, name, version)
        if found is None:
            raise NotFound("app version", f"{name}@{version}")
        return found

    async def app(self, tenant: str, name: str) -> AppRecord:
        """One app with its versions, highest first; NotFound if the tenant has none."""
        found = await self.store.get_app(tenant, name)
        if found is None:
            raise NotFound("app", name)
        return found

    async def package(self, record: AppVersionRecord) -> bytes:
        """The package of ``record``, verified against its digest (BlobCorrupt otherwise)."""
        return await self.blobs.get(package_key(record.tenant, record.name, record.digest))

    async def delete_version(self, tenant: str, name: str, version: str) -> None:
        """Remove a version and then its package; Conflict while a deployment uses it, NotFound if absent."""
        record = await self.version(tenant, name, version)
        if not await self.store.delete_version(tenant, name, version):
            raise NotFound("app version", f"{name}@{version}")
        await self._remove_packages((record,))

    async def delete_app(self, tenant: str, name: str) -> None:
        """Remove every version of an app and then their packages; Conflict while a deployment uses one."""
        app = await self.app(tenant, name)
        if not await self.store.delete_app(tenant, name):
            raise NotFound("app", name)
        await self._remove_packages(app.versions)

    async def _remove_packages(self, records: tuple[AppVersionRecord, ...]) -> None:
        for record in records:
            key = package_key(record.tenant, record.name, record.digest)
            try:
                await self.blobs.delete(key)
            except Exception as exc:  # noqa: BLE001 - the record is gone; an orphaned blob is only wasted space
                log.warning("could not remove package %s of a deleted app version: %s", key, exc)


def _record(tenant: str, package: Package, pushed_by: str) -> AppVersionRecord:
    info = package.manifest.app
    return AppVersionRecord(
        tenant=tenant,
        name=info.name,
        version=info.version,
        digest=package.digest,
        size=package.size,
        manifest=package.manifest.model_dump_json(by_alias=True),
        created=now_ms(),
        created_by=pushed_by,
    )

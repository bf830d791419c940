"""Tenants and devices of the MongoDB store (:class:`hub.store.registry.RegistryStore`).

- ``tenants``: ``_id`` is the tenant id, the rest the whole :class:`Tenant` as JSON, so that a field added to
  the model is kept with no change here.
- ``devices``: ``_id`` is the device id, the rest the :class:`Device` as JSON but for ``created`` and
  ``last_seen`` (epoch ms; ``last_seen`` is absent until the device is heard, and telemetry raises it with
  ``$max`` too) and ``labels`` (``key=value`` strings, hub/store/mongo/labels.py); beside them the credentials
  record (``secret_hash``, ``broker_hash``), so a device and its credentials appear in one insert.

There are no multi-document transactions (FerretDB has none): where SQLite deletes several tables' rows in one,
the writes here are ordered so that a failure part-way leaves nothing visible half-done, and each method says how.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from contracts.devices import Device, DeviceStatus, Tenant
from contracts.telemetry import from_epoch_ms, to_epoch_ms
from hub.errors import InvalidInput
from hub.store.mongo import alarms, apps, events
from hub.store.mongo.channels import CHANNELS
from hub.store.mongo.database import Document, MongoDatabase, translated
from hub.store.mongo.identity import API_KEYS, USERS
from hub.store.mongo.labels import from_pairs, pair, to_pairs
from hub.store.mongo.logs import LOG_LINES
from hub.store.mongo.nodes import HEARTBEATS
from hub.store.mongo.profiles import PROFILES
from hub.store.mongo.provisioning import TOKENS
from hub.store.mongo.state import STATE
from hub.store.mongo.telemetry import delete_device_data
from hub.store.mongo.tenants import TENANTS, insert_in_tenant, tenant_exists
from hub.store.mongo.versions import bump_version
from hub.store.registry import DevicePatchRecord, DeviceQuery, DeviceSecret

DEVICES = "devices"
# The credentials record's fields of a device document; projections of a device without them, and of the record.
_CREDENTIALS = ("secret_hash", "broker_hash")
_PUBLIC = dict.fromkeys(_CREDENTIALS, False)
_NOT_DEVICE = ("_id", *_CREDENTIALS)
_SECRET = {"tenant": True, "secret_hash": True, "enabled": True, "broker_hash": True}

# What a tenant must no longer hold to be deleted: kind -> (collection, the field whose distinct values are
# counted, or None to count documents). Every collection named here keeps its tenant in ``tenant``.
_TENANT_CONTENTS: dict[str, tuple[str, str | None]] = {
    "devices": (DEVICES, None),
    "users": (USERS, None),
    "apps": (apps.VERSIONS, "name"),  # an app is every version of one name
    "deployments": (apps.DEPLOYMENTS, None),
    "profiles": (PROFILES, None),
    "rules": (alarms.RULES, None),
    "channels": (CHANNELS, None),
    "webhooks": (events.WEBHOOKS, None),
}
# A deleted tenant's history, removed with it (each collection keeps the tenant in ``tenant``).
_TENANT_HISTORY = (alarms.ALARMS, alarms.PENDING, events.EVENTS, LOG_LINES, TOKENS, API_KEYS)
# What is kept of a device beside telemetry: collection -> the field holding the device id.
_DEVICE_DATA = {STATE: "device_id", HEARTBEATS: "_id", LOG_LINES: "node", alarms.PENDING: "device"}


def _tenant(doc: Document) -> Tenant:
    return Tenant.model_validate({name: value for name, value in doc.items() if name != "_id"} | {"id": doc["_id"]})


def _device_doc(device: Device, secret_hash: str, broker_hash: str | None) -> Document:
    doc = device.model_dump(mode="json", exclude={"id", "labels", "created", "last_seen"})
    doc |= {
        "_id": device.id,
        "labels": to_pairs(device.labels),
        "created": to_epoch_ms(device.created),
        "secret_hash": secret_hash,
        "broker_hash": broker_hash,
    }
    if device.last_seen is not None:
        doc["last_seen"] = to_epoch_ms(device.last_seen)
    return doc


def _device(doc: Document) -> Device:
    last_seen = doc.get("last_seen")
    return Device.model_validate(
        {
            **{name: value for name, value in doc.items() if name not in _NOT_DEVICE},
            "id": doc["_id"],
            "labels": from_pairs(doc["labels"]),
            "created": from_epoch_ms(doc["created"]),
            "last_seen": None if last_seen is None else from_epoch_ms(last_seen),
        }
    )


def _secret(doc: Document) -> DeviceSecret:
    return DeviceSecret(doc["_id"], doc["tenant"], doc["secret_hash"], doc["enabled"], doc.get("broker_hash"))


def _device_filter(query: DeviceQuery) -> Document:
    """The listing's filter. Each equality filter has an index of ``(field, tenant, _id)`` (schema.py), which
    answers it alone or with ``tenant`` in id order; ``search`` (a substring, as SQLite's LIKE) uses none, and
    scans what the other filters leave (a tenant's devices with ``devices_by_tenant``)."""
    where: Document = {}
    if query.tenant is not None:
        where["tenant"] = query.tenant
    if query.status is not None:
        where["status"] = query.status.value
    if query.kind is not None:
        where["kind"] = query.kind.value
    if query.profile is not None:
        where["profile"] = query.profile
    if query.label is not None:
        where["labels"] = pair(*query.label)
    if query.search:
        pattern = {"$regex": re.escape(query.search), "$options": "i"}
        where["$or"] = [{"_id": pattern}, {"name": pattern}]
    return where


class MongoRegistry:
    """Tenants in ``tenants``, devices with their credentials in ``devices``."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    # tenants
    async def create_tenant(self, tenant: Tenant) -> None:
        if not await tenant_exists(self._db, tenant.id):
            # What a deletion of a former tenant of this id left behind, had it failed part-way (delete_tenant).
            await self._clear_history(tenant.id)
        async with translated("tenant", tenant.id):
            await self._db.collection(TENANTS).insert_one(
                {"_id": tenant.id, **tenant.model_dump(mode="json", exclude={"id"})}
            )

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        async with translated():
            doc = await self._db.collection(TENANTS).find_one({"_id": tenant_id})
        return None if doc is None else _tenant(doc)

    async def list_tenants(self) -> list[Tenant]:
        async with translated():
            docs = await self._db.collection(TENANTS).find().sort("_id", 1).to_list()
        return [_tenant(doc) for doc in docs]

    async def rename_tenant(self, tenant_id: str, name: str) -> Tenant | None:
        async with translated():
            doc = await self._db.collection(TENANTS).find_one_and_update(
                {"_id": tenant_id}, {"$set": {"name": name}}, return_document=ReturnDocument.AFTER
            )
        return None if doc is None else _tenant(doc)

    async def set_tenant_retention(
        self, tenant_id: str, telemetry_days: int | None, logs_days: int | None
    ) -> Tenant | None:
        retention = {"telemetry_days": telemetry_days, "logs_days": logs_days}
        async with translated():
            doc = await self._db.collection(TENANTS).find_one_and_update(
                {"_id": tenant_id}, {"$set": retention}, return_document=ReturnDocument.AFTER
            )
        return None if doc is None else _tenant(doc)

    async def delete_tenant(self, tenant_id: str) -> dict[str, int] | None:
        tenants = self._db.collection(TENANTS)
        async with translated():
            tenant = await tenants.find_one({"_id": tenant_id})
            if tenant is None:
                return None
            if left := await self._contents(tenant_id):
                return left
            if (await tenants.delete_one({"_id": tenant_id})).deleted_count == 0:
                return None  # another process deleted it meanwhile
            # Counted again once the tenant is gone (see hub/store/mongo/tenants.py): something made while the first
            # count ran puts the tenant back, unchanged, and nothing was deleted.
            if left := await self._contents(tenant_id):
                with contextlib.suppress(DuplicateKeyError):  # a tenant of that id was made again meanwhile
                    await tenants.insert_one(tenant)
                return left
        # The history goes last, once the deletion is sure; should that fail, create_tenant clears what is left
        # before a tenant of this id is made again.
        await self._clear_history(tenant_id)
        return {}

    async def _clear_history(self, tenant_id: str) -> None:
        async with translated():
            for name in _TENANT_HISTORY:
                await self._db.collection(name).delete_many({"tenant": tenant_id})

    async def _contents(self, tenant_id: str) -> dict[str, int]:
        """What is left in a tenant, by kind, leaving out kinds it holds none of."""
        counts: dict[str, int] = {}
        for kind, (name, distinct) in _TENANT_CONTENTS.items():
            collection = self._db.collection(name)
            if distinct is None:
                counts[kind] = await collection.count_documents({"tenant": tenant_id})
            else:
                counts[kind] = len(await collection.distinct(distinct, {"tenant": tenant_id}))
        return {kind: n for kind, n in counts.items() if n}

    # devices
    async def create_device(self, device: Device, secret_hash: str, broker_hash: str | None = None) -> None:
        await insert_in_tenant(self._db, DEVICES, _device_doc(device, secret_hash, broker_hash), "device")
        if device.profile is not None:
            await bump_version(self._db, PROFILES)

    async def get_device(self, device_id: str) -> Device | None:
        async with translated():
            doc = await self._db.collection(DEVICES).find_one({"_id": device_id}, _PUBLIC)
        return None if doc is None else _device(doc)

    async def list_devices(self, query: DeviceQuery) -> tuple[list[Device], int]:
        if query.limit < 0 or query.offset < 0:
            raise InvalidInput("a device listing's limit and offset are 0 or more")
        where = _device_filter(query)
        devices = self._db.collection(DEVICES)
        async with translated():
            total = await devices.count_documents(where)
            # A limit of 0 means "no limit" to MongoDB, but an empty page here.
            docs = (
                await devices.find(where, _PUBLIC).sort("_id", 1).skip(query.offset).limit(query.limit).to_list()
                if query.limit
                else []
            )
        return [_device(doc) for doc in docs], total

    async def update_device(self, device_id: str, patch: DevicePatchRecord) -> Device | None:
        sets: Document = {}
        if patch.name is not None:
            sets["name"] = patch.name
        if patch.labels is not None:
            sets["labels"] = to_pairs(patch.labels)
        if patch.enabled is not None:
            sets["enabled"] = patch.enabled
        if patch.profile is not None:
            sets["profile"] = patch.profile or None
        if not sets:
            return await self.get_device(device_id)
        async with translated():
            # No projection: FerretDB's findAndModify takes none (_device leaves the credentials out).
            before = await self._db.collection(DEVICES).find_one_and_update(
                {"_id": device_id}, {"$set": sets}, return_document=ReturnDocument.BEFORE
            )
        if before is None:
            return None
        # The document before the change tells whether the profile changed (as SQLite's trigger compares).
        if "profile" in sets and before.get("profile") != sets["profile"]:
            await bump_version(self._db, PROFILES)
        return _device(before | sets)

    async def delete_device(self, device_id: str) -> bool:
        # The device goes first, so that it is refused from then on; then what is kept of it. A failure between
        # leaves data no one sees, and deleting the id again (which sweeps even when the device is gone) ends it.
        async with translated():
            gone = await self._db.collection(DEVICES).find_one_and_delete({"_id": device_id})
            await delete_device_data(self._db, device_id)
            for name, field in _DEVICE_DATA.items():
                await self._db.collection(name).delete_many({field: device_id})
        if gone is not None and gone.get("profile") is not None:
            await bump_version(self._db, PROFILES)
        return gone is not None

    async def get_device_secret(self, device_id: str) -> DeviceSecret | None:
        async with translated():
            doc = await self._db.collection(DEVICES).find_one({"_id": device_id}, _SECRET)
        return None if doc is None else _secret(doc)

    async def set_device_secret(self, device_id: str, secret_hash: str, broker_hash: str | None = None) -> bool:
        async with translated():
            result = await self._db.collection(DEVICES).update_one(
                {"_id": device_id}, {"$set": {"secret_hash": secret_hash, "broker_hash": broker_hash}}
            )
        return result.matched_count == 1

    async def list_device_secrets(self) -> list[DeviceSecret]:
        async with translated():
            docs = await self._db.collection(DEVICES).find({}, _SECRET).sort("_id", 1).to_list()
        return [_secret(doc) for doc in docs]

    async def set_status(self, device_id: str, status: DeviceStatus, ts: int) -> None:
        update: dict[str, Any] = {"$set": {"status": status.value}}
        if status is DeviceStatus.ONLINE:
            update["$max"] = {"last_seen": ts}  # never back: telemetry raises it as well
        async with translated():
            await self._db.collection(DEVICES).update_one({"_id": device_id}, update)

    async def reset_statuses(self) -> None:
        async with translated():  # devices_by_status finds the ones to change
            await self._db.collection(DEVICES).update_many(
                {"status": {"$ne": DeviceStatus.OFFLINE.value}}, {"$set": {"status": DeviceStatus.OFFLINE.value}}
            )

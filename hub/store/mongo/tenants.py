"""References to tenants in the MongoDB store: what is made in a tenant is made only while the tenant exists.

SQLite refuses a dangling tenant with a foreign key. Here a writer checks before and after its insert, as
:meth:`hub.store.mongo.registry.MongoRegistry.delete_tenant` counts before and after deleting the tenant.
"""

from __future__ import annotations

from hub.errors import InvalidInput
from hub.store.mongo.database import Document, MongoDatabase, translated

TENANTS = "tenants"


async def tenant_exists(db: MongoDatabase, tenant_id: str) -> bool:
    """Whether the tenant ``tenant_id`` exists."""
    async with translated():
        return await db.collection(TENANTS).find_one({"_id": tenant_id}, {"_id": True}) is not None


async def insert_in_tenant(db: MongoDatabase, collection: str, doc: Document, what: str) -> None:
    """Insert ``doc`` (its ``_id`` and ``tenant`` given) only into a tenant that exists.

    Raises:
        InvalidInput: there is no tenant ``doc["tenant"]`` (nothing is inserted).
        Conflict: the ``_id`` is taken.
    """
    tenant, ident = doc["tenant"], doc["_id"]
    refused = InvalidInput(f"{what} {ident!r} refers to tenant {tenant!r}, which does not exist")
    if not await tenant_exists(db, tenant):
        raise refused
    async with translated(what, ident):
        await db.collection(collection).insert_one(doc)
    # Checked again after the insert, as MongoRegistry.delete_tenant counts again after its delete: of an insert
    # and a deletion of the tenant at the same time, at least one sees the other, so no tenant goes with
    # something left in it.
    if not await tenant_exists(db, tenant):
        async with translated():
            await db.collection(collection).delete_one({"_id": ident})
        raise refused

"""The change versions of the MongoDB store: ``store_versions`` holds one per cached kind (``profiles``, ``rules``).

Processes cache profiles and rules and poll a version to learn that theirs is stale; they only compare it for
equality. SQLite bumps its counters with triggers in the writing transaction; MongoDB has no triggers (and
FerretDB no multi-document transactions), so each write that changes a cached kind bumps the version itself,
right after the change: a process that sees the new number and reloads sees the change. A process that dies
between the two leaves the version behind until the next change of that kind.

A bump sets a fresh random number rather than adding one: FerretDB 1.24 applies concurrent ``$inc`` updates of
one document without isolation (40 concurrent increments from 8 clients added 5), and two bumps that raced to the
same number could hide the second change from a cache that reloaded after the first. A fresh number differs from
every earlier one whichever bump lands last (a repeat has odds of 2**-63).
"""

from __future__ import annotations

import secrets

from hub.store.mongo.database import MongoDatabase, translated

VERSIONS = "store_versions"


async def bump_version(db: MongoDatabase, name: str) -> None:
    """Tell every process's cache of ``name`` (``profiles`` or ``rules``) that it changed."""
    async with translated():
        await db.collection(VERSIONS).update_one(
            {"_id": name}, {"$set": {"version": secrets.randbits(63)}}, upsert=True
        )


async def store_version(db: MongoDatabase, name: str) -> int:
    """The version of ``name`` (0 before its first change)."""
    async with translated():
        found = await db.collection(VERSIONS).find_one({"_id": name})
    return 0 if found is None else int(found["version"])

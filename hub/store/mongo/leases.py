"""Leases of the MongoDB store (:class:`hub.store.leases.LeaseStore`).

Each holding of a lease is a *term*: one document ``{_id: "<name>:<term>", name, term, holder, until}``. The
newest term is the lease. A lease that is free or expired is taken by inserting the next term, whose ``_id``
only one insert can get (DuplicateKeyError: another process took it first); only the holder ever writes its own
term (renewal, release). No step relies on a conditional update being atomic: FerretDB, which the tests run,
reads and writes an update in two steps, so two "expired or mine" upserts could both succeed there.
"""

from __future__ import annotations

import re
from typing import Any

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from hub.store.leases import Lease
from hub.store.mongo.database import MongoDatabase, translated

COLLECTION = "leases"


class MongoLeases:
    """Lease terms in ``leases``, the newest of a name in force."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    async def acquire(self, name: str, holder: str, now: int, until: int) -> bool:
        terms = self._db.collection(COLLECTION)
        async with translated():
            current = await self._current(name)
            if current is not None and current["until"] > now:
                if current["holder"] != holder:
                    return False
                await terms.update_one({"_id": current["_id"]}, {"$set": {"until": until}})
                # A renewal that raced a taker: the newer term wins and this holder learns it here.
                latest = await self._current(name)
                return latest is not None and latest["_id"] == current["_id"]
            term = 1 if current is None else int(current["term"]) + 1
            try:
                await terms.insert_one(
                    {"_id": f"{name}:{term}", "name": name, "term": term, "holder": holder, "until": until}
                )
            except DuplicateKeyError:
                return False
            await terms.delete_many({"name": name, "term": {"$lt": term}})  # the terms before no longer count
        return True

    async def release(self, name: str, holder: str) -> bool:
        async with translated():
            current = await self._current(name)
            if current is None or current["holder"] != holder or current["until"] <= 0:
                return False
            await self._db.collection(COLLECTION).update_one({"_id": current["_id"]}, {"$set": {"until": 0}})
        return True

    async def holder(self, name: str, now: int) -> Lease | None:
        async with translated():
            current = await self._current(name)
        if current is None or current["until"] <= now:
            return None
        return Lease(name, str(current["holder"]), int(current["until"]))

    async def lapsed(self, prefix: str, now: int) -> list[Lease]:
        async with translated():
            found = await self._db.collection(COLLECTION).find({"name": {"$regex": f"^{re.escape(prefix)}"}}).to_list()
        newest: dict[str, dict[str, Any]] = {}
        for term in found:
            kept = newest.get(term["name"])
            if kept is None or term["term"] > kept["term"]:
                newest[term["name"]] = term
        return [
            Lease(name, str(term["holder"]), int(term["until"]))
            for name, term in sorted(newest.items())
            if term["until"] <= now
        ]

    async def forget(self, name: str, holder: str) -> bool:
        async with translated():
            current = await self._current(name)
            if current is None or current["holder"] != holder:
                return False
            # Up to this term only: a term taken meanwhile belongs to someone else.
            await self._db.collection(COLLECTION).delete_many({"name": name, "term": {"$lte": current["term"]}})
        return True

    async def _current(self, name: str) -> dict[str, Any] | None:
        return await self._db.collection(COLLECTION).find_one({"name": name}, sort=[("term", DESCENDING)])

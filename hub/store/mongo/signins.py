"""The sign-in guard's failures and locks in the MongoDB store (:class:`hub.store.signins.SignInStore`).

- ``sign_in_failures``: one document per failure, ``{key, ts}``.
- ``sign_in_locks``: one document per lock of a key (until trimmed), ``{_id: "key#n", key, n, since, until}``:
  the key's ``n``-th lock, taken at ``since`` (the failures up to then are forgotten), in force until ``until``.

SQLite counts a failure and decides the lock in one transaction. Here there is none, and not even a conditional
single-document update will do: FerretDB applies updates as a read and a write, so two at once both match (MongoDB
would not). The one write both servers make atomic is an insert of a taken ``_id``, so the decision rests on that.
A failure reads the key's latest lock (number ``n``, taken at ``since``), is inserted, and the key's failures
within the window and after ``since`` are counted; a count that reaches the limit inserts lock ``n + 1``. Why this
neither misses the limit nor locks twice:

- Each failure is counted after its own insert, so the last of ``limit`` failures within the window since the
  latest lock counts them all and tries the next lock; that try fails only if the lock is taken, by another one.
- Two tries after one lock insert the same ``_id``: exactly one succeeds and gets the lock's end back.

Once trimmed, a key's locks are gone and counting starts from the window alone: the failures before the latest
lock went when it was taken, or are older than the trim.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo.errors import DuplicateKeyError

from hub.store.mongo.database import MongoDatabase, translated

FAILURES = "sign_in_failures"
LOCKS = "sign_in_locks"


class MongoSignIns:
    """Failures in ``sign_in_failures``, locks in ``sign_in_locks``."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    async def locked_until(self, keys: Sequence[str], now: int) -> int | None:
        if not keys:
            return None
        async with translated():
            locks = await self._db.collection(LOCKS).find({"key": {"$in": list(keys)}, "until": {"$gt": now}}).to_list()
        return max((int(lock["until"]) for lock in locks), default=None)

    async def fail(self, key: str, now: int, *, window_ms: int, limit: int, cooldown_ms: int) -> int | None:
        failures, locks = self._db.collection(FAILURES), self._db.collection(LOCKS)
        async with translated():
            # sign_in_locks_by_key: the key's latest lock
            latest = await locks.find({"key": key}).sort("n", -1).limit(1).to_list()
            number, since = (latest[0]["n"], latest[0]["since"]) if latest else (0, None)
            await failures.insert_one({"key": key, "ts": now})
            counted = now - window_ms if since is None else max(now - window_ms, since)
            # sign_in_failures_by_key answers the count (and the deletes of a key's failures).
            if await failures.count_documents({"key": key, "ts": {"$gt": counted}}) < limit:
                return None
            until = now + cooldown_ms
            number += 1
            try:
                # ``#n`` ends the _id, and a number holds no ``#``: each (key, number) has an _id of its own.
                await locks.insert_one(
                    {"_id": f"{key}#{number}", "key": key, "n": number, "since": now, "until": until}
                )
            except DuplicateKeyError:
                return None  # another failure took this lock
            # The failures up to the lock no longer count: removed now rather than left for trim.
            await failures.delete_many({"key": key, "ts": {"$lte": now}})
        return until

    async def clear(self, key: str) -> None:
        async with translated():
            await self._db.collection(FAILURES).delete_many({"key": key})

    async def trim(self, before: int) -> int:
        async with translated():
            failures = await self._db.collection(FAILURES).delete_many({"ts": {"$lt": before}})
            locks = await self._db.collection(LOCKS).delete_many({"until": {"$lt": before}})
        return failures.deleted_count + locks.deleted_count

"""Versioned schema of the MongoDB store; the ``_schema`` collection records the applied version.

Append a step to :data:`MIGRATIONS` for every change; never edit an applied one. Two processes starting
on one database migrate once: the first takes a lock document (with an expiry, so a process killed
mid-migration does not block the next start for good), the other waits for it.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from hub.clock import now_ms
from hub.errors import ConfigError, StoreUnavailable
from hub.store.mongo.schema import create_indexes

Step = Callable[[AsyncDatabase[dict[str, Any]]], Awaitable[None]]


async def _notify_cursor_to_event_cursors(db: AsyncDatabase[dict[str, Any]]) -> None:
    """The notification dispatcher's cursor, the one document of ``notify_cursor``, becomes the named cursor
    ``notify`` of the consumers of events (a document of ``event_cursors``, hub/store/mongo/events.py), which stays
    before notifications still owed (hub/notify/dispatcher.py); ``notify_cursor`` goes.

    Names are spelled out, not imported: a step does what it did when it was released. Run again after being cut
    short, it copies the cursor again or, past the drop, finds none and leaves the copy.
    """
    found = await db["notify_cursor"].find_one({"_id": "dispatcher"})
    if found is not None:
        await db["event_cursors"].update_one({"_id": "notify"}, {"$set": {"event": int(found["event"])}}, upsert=True)
    await db.drop_collection("notify_cursor")


MIGRATIONS: list[Step] = [
    # 1: every collection's indexes (hub/store/mongo/schema.py)
    create_indexes,
    # 2: the notify cursor joins the events' named cursors
    _notify_cursor_to_event_cursors,
]

_LOCK_MS = 120_000
_POLL_S = 0.2


async def migrate(db: AsyncDatabase[dict[str, Any]]) -> None:
    """Bring ``db`` to the newest version; refuse a database written by a newer Fieldhub."""
    schema = db["_schema"]
    me = f"{socket.gethostname()}:{os.getpid()}"
    deadline = now_ms() + _LOCK_MS
    while True:
        version = await _version(db)
        if version > len(MIGRATIONS):
            raise ConfigError(
                f"the MongoDB store is at schema version {version}, newer than this Fieldhub knows "
                f"({len(MIGRATIONS)}); upgrade Fieldhub"
            )
        if version == len(MIGRATIONS):
            return
        now = now_ms()
        await schema.delete_one({"_id": "lock", "until": {"$lt": now}})
        try:
            await schema.insert_one({"_id": "lock", "holder": me, "until": now + _LOCK_MS})
        except DuplicateKeyError:
            if now_ms() > deadline:
                raise StoreUnavailable("another process has been migrating the MongoDB store for too long") from None
            await asyncio.sleep(_POLL_S)  # another process migrates; poll until its lock goes
            continue
        try:
            for number in range(await _version(db) + 1, len(MIGRATIONS) + 1):
                await MIGRATIONS[number - 1](db)
                await schema.update_one({"_id": "version"}, {"$set": {"version": number}}, upsert=True)
        finally:
            await schema.delete_one({"_id": "lock", "holder": me})


async def _version(db: AsyncDatabase[dict[str, Any]]) -> int:
    doc = await db["_schema"].find_one({"_id": "version"})
    return 0 if doc is None else int(doc["version"])

"""What a store migration has copied so far, kept in the target so that an interrupted run resumes there."""

from __future__ import annotations

from typing import Any

from hub.store.mongo.database import COPY_SOURCE, COPY_STATE, MongoDatabase, translated

#: One document per concern (``_id`` its name): ``after`` the last key copied, ``copied`` how many so far; and
#: ``_source``, naming the store the target was copied from and whether the last run was final (see
#: :func:`hub.store.mongo.database.refuse_unfinished_copy`).
MIGRATION = COPY_STATE
_SOURCE = COPY_SOURCE


class Progress:
    """Per concern, the key of the last object copied (the next run copies those after it)."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    async def after(self, concern: str) -> Any:
        """The key of the last object of ``concern`` copied, ``None`` before the first."""
        async with translated():
            found = await self._db.collection(MIGRATION).find_one({"_id": concern})
        return None if found is None else found["after"]

    async def advance(self, concern: str, after: Any, copied: int) -> None:
        """Record that ``concern`` is copied up to ``after`` (``copied`` more objects)."""
        async with translated():
            await self._db.collection(MIGRATION).update_one(
                {"_id": concern}, {"$set": {"after": after}, "$inc": {"copied": copied}}, upsert=True
            )

    async def source(self) -> str | None:
        """The store this target was copied from (its redacted URL), ``None`` if it was not."""
        async with translated():
            found = await self._db.collection(MIGRATION).find_one({"_id": _SOURCE})
        return None if found is None else str(found["url"])

    async def claim(self, source: str) -> None:
        """Record that this target is a copy of ``source``, not final until :meth:`finish` says so."""
        await self._set_source(url=source, final=False)

    async def finish(self, *, final: bool) -> None:
        """Record how the run ended: ``final`` when no hub ran on the source from its start to its end."""
        await self._set_source(final=final)

    async def _set_source(self, **fields: object) -> None:
        async with translated():
            await self._db.collection(MIGRATION).update_one({"_id": _SOURCE}, {"$set": fields}, upsert=True)

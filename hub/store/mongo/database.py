"""The MongoDB database behind every store interface of the MongoDB backend: one client, the schema
brought to the current version on open, and the translation of driver errors into the hub's.

Only what MongoDB and FerretDB (the wire-protocol server the tests run) both do is used: no
multi-document transactions, no change streams, no time-series collections, no TTL indexes, one
accumulator per ``$group`` stage. Where production MongoDB could do better, docs/architecture.md says so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError, PyMongoError

from hub.errors import ConfigError, Conflict, StoreUnavailable
from hub.store.mongo.migrations import migrate

Document = dict[str, Any]
DEFAULT_DATABASE = "fieldhub"
#: How long an operation waits for a server it can use before the store answers "unavailable".
SERVER_WAIT_MS = 5000
#: Where ``fieldhub store migrate`` keeps its progress in the target (hub/store/migration/progress.py), and the
#: document naming the source and whether the last run was final.
COPY_STATE = "_migration"
COPY_SOURCE = "_source"


def database_name(url: str) -> str:
    """The database a ``mongodb://`` URL names (its path), ``fieldhub`` when it names none."""
    name = urlsplit(url).path.lstrip("/")
    if any(c in name for c in '/\\. "$'):
        raise ConfigError(f'store URL names database {name!r}; a MongoDB database name has no / \\ . space " or $')
    return name or DEFAULT_DATABASE


class MongoDatabase:
    """Connects, migrates and closes; the per-concern adapters take their collections from :meth:`collection`."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._name = database_name(url)
        self._client: AsyncMongoClient[Document] | None = None

    @property
    def db(self) -> AsyncDatabase[Document]:
        if self._client is None:
            raise StoreUnavailable("store is not open")
        return self._client[self._name]

    def collection(self, name: str) -> AsyncCollection[Document]:
        return self.db[name]

    async def open(self, *, copy_target: bool = False) -> None:
        """Connect and bring the schema up; refuse a store whose copy from another is not final, unless it is
        opened as the ``copy_target`` of that copy."""
        # tz_aware=False: the adapters keep epoch milliseconds, never BSON dates.
        self._client = AsyncMongoClient(
            self._url, serverSelectionTimeoutMS=SERVER_WAIT_MS, connectTimeoutMS=SERVER_WAIT_MS, appname="fieldhub"
        )
        try:
            async with translated():
                await self.db.command("ping")
                await migrate(self.db)
                if not copy_target:
                    await refuse_unfinished_copy(self.db)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    async def ping(self) -> None:
        async with translated():
            await self.db.command("ping")


async def refuse_unfinished_copy(db: AsyncDatabase[Document]) -> None:
    """Raise ConfigError if ``db`` is the target of a store migration whose last run was not final.

    A hub started on a copy before its final run would number events, logs and audit records that the final run
    still has to copy under the same ids.
    """
    found = await db[COPY_STATE].find_one({"_id": COPY_SOURCE})
    if found is None or found.get("final", True):  # copies made before runs said so count as final
        return
    raise ConfigError(
        f"this MongoDB store is a copy of {found['url']} whose last run was not final (a hub ran on the source "
        "meanwhile, or the run was cut short): stop that hub, run fieldhub store migrate once more, then start"
    )


@asynccontextmanager
async def translated(what: str = "object", ident: str = "") -> AsyncIterator[None]:
    """Driver errors as the hub's: a taken unique key is :class:`Conflict` (naming ``what`` and ``ident``),
    a server that cannot be reached :class:`StoreUnavailable` (the driver's reason stays in the chain, never
    in the message: it may hold the URL)."""
    try:
        yield
    except DuplicateKeyError as exc:
        raise Conflict(f"{what} {ident!r} already exists" if ident else f"{what} already exists") from exc
    except ConnectionFailure as exc:
        raise StoreUnavailable("the MongoDB store cannot be reached") from exc
    except PyMongoError as exc:
        raise StoreUnavailable(f"the MongoDB store refused an operation ({type(exc).__name__})") from exc

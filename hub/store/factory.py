"""Store backends by URL scheme (``store`` / ``FIELDHUB_STORE``); a backend registers here by name."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from hub.backends import BackendRegistry
from hub.errors import ConfigError
from hub.store.backend import Backend

STORES: BackendRegistry[Backend] = BackendRegistry("store")


@STORES.register("sqlite", "one SQLite file, WAL; the embedded default", "sqlite:///path/to/fieldhub.db")
def _sqlite(url: str) -> Backend:
    from hub.store.sqlite.backend import sqlite_backend  # noqa: PLC0415 - import the backend only when chosen

    return sqlite_backend(sqlite_path(url))


def sqlite_path(url: str) -> Path:
    """The file a ``sqlite:///`` URL names."""
    path = urlsplit(url).path
    # sqlite:///relative.db has path "/relative.db"; sqlite:////abs.db has "//abs.db".
    path = path[1:] if path.startswith("/") else path
    if not path:
        raise ConfigError(f"store URL {url!r} names no database file (sqlite:///path/to/fieldhub.db)")
    return Path(path)


@STORES.register(
    "mongodb", "a MongoDB database (several hub processes share it)", "mongodb://user:password@host:27017/fieldhub"
)
def _mongodb(url: str) -> Backend:
    from hub.store.mongo.backend import mongo_backend  # noqa: PLC0415 - import the backend only when chosen

    return mongo_backend(url)


def open_store(url: str) -> Backend:
    """Build (not yet open) the store named by ``url``, e.g. ``sqlite:///data/fieldhub.db``."""
    return STORES.build(url)

"""Pick a store adapter by URL scheme; adapters register here by name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from hub.errors import ConfigError
from hub.store.backend import Backend


def _sqlite(url: str) -> Backend:
    from hub.store.sqlite.backend import sqlite_backend  # noqa: PLC0415 - import the backend only when chosen

    path = urlsplit(url).path
    # sqlite:///relative.db has path "/relative.db"; sqlite:////abs.db has "//abs.db".
    path = path[1:] if path.startswith("/") else path
    if not path:
        raise ConfigError(f"store URL {url!r} names no database file (sqlite:///path/to/fieldhub.db)")
    return sqlite_backend(Path(path))


ADAPTERS: dict[str, Callable[[str], Backend]] = {"sqlite": _sqlite}


def open_store(url: str) -> Backend:
    """Build (not yet open) the store named by ``url``, e.g. ``sqlite:///data/fieldhub.db``."""
    scheme = urlsplit(url).scheme
    factory = ADAPTERS.get(scheme)
    if factory is None:
        raise ConfigError(f"unknown store {scheme!r} in {url!r}; known: {', '.join(sorted(ADAPTERS))}")
    return factory(url)

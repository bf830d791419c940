"""``fieldhub store migrate``: copy a SQLite store into a MongoDB store, resumably, while the hub may run."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pymongo import uri_parser
from pymongo.errors import PyMongoError

from hub.backends import redacted
from hub.clock import now_ms
from hub.errors import ConfigError
from hub.store.backend import Backend
from hub.store.factory import open_store, sqlite_path
from hub.store.leases import LEADER
from hub.store.migration.concerns import CONCERNS
from hub.store.migration.context import Run
from hub.store.migration.progress import Progress
from hub.store.mongo.database import MongoDatabase
from hub.store.mongo.tenants import TENANTS
from hub.store.sqlite.migrations import MIGRATIONS


@dataclass(frozen=True, slots=True)
class Step:
    """What one concern's copy did: how many objects, in how long."""

    concern: str
    copied: int
    seconds: float
    done: bool


def _check_target_url(url: str) -> None:
    """Refuse what is not a valid ``mongodb://`` URL, before the driver does (its error would be a traceback)."""
    if urlsplit(url).scheme != "mongodb":
        raise ConfigError(f"--to must be a mongodb:// URL, not {redacted(url)!r}")
    try:
        uri_parser.parse_uri(url)
    except (ValueError, PyMongoError) as exc:
        reason = str(exc)
        if (password := urlsplit(url).password) is not None:
            reason = reason.replace(password, "***")
        raise ConfigError(f"--to is no valid MongoDB URL: {reason}") from None


def _source_path(url: str) -> Path:
    """The SQLite file ``url`` names, refused unless a hub of this version keeps it: opening the store would
    otherwise create it or migrate a running older hub's file under it."""
    if urlsplit(url).scheme != "sqlite":
        raise ConfigError(f"--from must be a sqlite:/// URL, not {redacted(url)!r}")
    path = sqlite_path(url)
    if not path.is_file():
        raise ConfigError(f"--from names {str(path)!r}, which is no file")
    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as conn:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
    except sqlite3.Error as exc:
        raise ConfigError(f"--from {str(path)!r} is not a SQLite store: {exc}") from exc
    if version != len(MIGRATIONS):
        newer = "newer than this Fieldhub knows" if version > len(MIGRATIONS) else "older than this Fieldhub's"
        raise ConfigError(
            f"the SQLite store is at schema version {version}, {newer} ({len(MIGRATIONS)}): "
            "migrate with the Fieldhub version that runs the hub"
        )
    return path.resolve()


async def copy_store(
    source_url: str, target_url: str, *, batch: int, dry_run: bool, force: bool, report: Callable[[Step], None]
) -> bool:
    """Copy everything of ``source_url`` into ``target_url``, reporting each concern's progress to ``report``.

    Returns whether the run was final: no hub ran on the source from its start to its end (its leader lease was
    free both times), so the copy is complete. A hub refuses to start on a copy whose last run was not.

    Raises:
        ConfigError: URLs of the wrong kinds, a store at another schema version, or a target that holds another
            hub's data (without ``force``).
    """
    if source_url == target_url:
        raise ConfigError("--from and --to name the same store")
    _check_target_url(target_url)
    if batch < 1:
        raise ConfigError("--batch must be at least 1")
    origin = f"sqlite://{_source_path(source_url)}"
    source, target = open_store(source_url), open_store(target_url)
    target_db = target.database
    if not isinstance(target_db, MongoDatabase):  # the scheme was checked: only a changed factory gets here
        raise ConfigError(f"--to {redacted(target_url)!r} did not open a MongoDB store")
    await source.database.open()
    try:
        # Brings the target's schema up, or refuses one of a newer Fieldhub.
        await target_db.open(copy_target=True)
        try:
            progress = Progress(target_db)
            await _check_target(target_db, progress, origin, force)
            quiet = not await _hub_runs(source)
            if not dry_run:
                await progress.claim(origin)
            run = Run(source, target, target_db, progress, batch, dry_run)
            for concern, copy in CONCERNS.items():
                started, copied = time.monotonic(), 0
                async for count in copy(run):
                    copied += count
                    report(Step(concern, copied, time.monotonic() - started, done=False))
                report(Step(concern, copied, time.monotonic() - started, done=True))
            final = quiet and not await _hub_runs(source)
            if not dry_run:
                await progress.finish(final=final)
            return final
        finally:
            await target_db.close()
    finally:
        await source.database.close()


async def _hub_runs(store: Backend) -> bool:
    """Whether a hub runs on ``store`` now: one always holds the leader lease while it runs."""
    return await store.leases.holder(LEADER, now_ms()) is not None


async def _check_target(db: MongoDatabase, progress: Progress, origin: str, force: bool) -> None:
    """Refuse a target that holds data not copied from ``origin`` (another hub's, or a hub's own), unless forced."""
    copied_from = await progress.source()
    if force or copied_from == origin:
        return
    if copied_from is not None:
        raise ConfigError(f"the MongoDB store is a copy of {copied_from}, not of {origin}; --force copies anyway")
    if await db.collection(TENANTS).find_one({}, {"_id": 1}) is not None:
        raise ConfigError("the MongoDB store holds data that no migration copied; --force copies into it anyway")

"""Run blocking sqlite3 calls off the event loop: one writer thread, a small reader pool.

WAL lets the readers see committed data while the single writer appends, so API
queries never wait behind an ingest batch.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from hub.errors import StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


class ConnectionPool:
    """A thread pool whose every thread owns one sqlite3 connection."""

    def __init__(self, path: Path, threads: int, name: str, *, read_only: bool = False) -> None:
        self._path = path
        self._read_only = read_only
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a process crash; only a power cut may lose the last commits.
            conn.execute("PRAGMA synchronous=NORMAL")
            # Commits only append to the log; a Checkpointer moves it into the database file.
            conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.execute("PRAGMA foreign_keys=ON")
            if self._read_only:
                conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` on a pool thread and return its result."""

        def call() -> T:
            try:
                return fn(self._connection())
            except sqlite3.IntegrityError:
                raise
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"sqlite store failed: {exc}") from exc

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def close(self) -> None:
        """Wait for running calls, then close every connection."""
        self._executor.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()


class Checkpointer:
    """Moves the write-ahead log into the database file every ``interval_s``, from a thread of its own.

    By default SQLite checkpoints inside the commit that takes the log past 1,000 pages, and a
    checkpoint ends with an fsync: on a virtual disk that held single ingest commits for up to
    0.6 s, and every message behind them. Here commits only append; a PASSIVE checkpoint copies
    what no reader still needs without taking the write lock, so the writer never waits for it.
    """

    def __init__(self, path: Path, interval_s: float = 1.0) -> None:
        self._pool = ConnectionPool(path, 1, "sqlite-checkpoint")
        self._interval_s = interval_s

    def close(self) -> None:
        """Release the connection, once :meth:`run` has ended (the store's last connection checkpoints the rest)."""
        self._pool.close()

    async def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, frames in the log, frames copied), as SQLite reports them."""
        row = await self._pool.run(lambda c: c.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())
        return int(row[0]), int(row[1]), int(row[2])

    async def run(self) -> None:
        """Checkpoint every ``interval_s`` until cancelled (the owner runs this as a background task)."""
        while True:
            await asyncio.sleep(self._interval_s)  # a periodic job: nothing to wait for but time
            try:
                await self.checkpoint()
            except StoreUnavailable as exc:
                log.warning("checkpointing the sqlite log failed, trying again: %s", exc.message)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, taken at once (no lock upgrade later), rolled back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")

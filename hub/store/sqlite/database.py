"""The SQLite database behind every store interface of the embedded backend: one file, WAL, a writer
thread and a small pool of reader threads, versioned migrations and a checkpointer of its own."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.errors import Conflict, InvalidInput, StoreUnavailable
from hub.store.sqlite.connections import Checkpointer, ConnectionPool
from hub.store.sqlite.migrations import migrate
from hub.tasks import Background


class SqliteDatabase:
    """Opens, migrates and closes the file; the per-concern adapters run their statements through it."""

    def __init__(self, path: Path, readers: int = 2) -> None:
        self._path = path
        self._readers_count = readers
        self._writer: ConnectionPool | None = None
        self._readers: ConnectionPool | None = None
        self._checkpointer: Checkpointer | None = None
        self._closing: list[Callable[[], Any]] = []
        #: Work the adapters run beside the writer (merges of small chunks), ended on close.
        self.background = Background()

    @property
    def writer(self) -> ConnectionPool:
        if self._writer is None:
            raise StoreUnavailable("store is not open")
        return self._writer

    @property
    def readers(self) -> ConnectionPool:
        if self._readers is None:
            raise StoreUnavailable("store is not open")
        return self._readers

    def on_close(self, wait: Callable[[], Any]) -> None:
        """Await ``wait()`` before closing (an adapter's work in progress on the writer thread)."""
        self._closing.append(wait)

    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = ConnectionPool(self._path, 1, "sqlite-writer")
        self._readers = ConnectionPool(self._path, self._readers_count, "sqlite-reader", read_only=True)
        try:
            await self.writer.run(migrate)
        except BaseException:
            await self.close()
            raise
        self._checkpointer = Checkpointer(self._path)
        await self.background.open()
        self.background.spawn(self._checkpointer.run(), name="sqlite-checkpoint")

    async def close(self) -> None:
        for wait in self._closing:
            await wait()
        await self.background.close()
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        for pool in (self._writer, self._readers):
            if pool is not None:
                pool.close()
        self._writer = self._readers = None

    async def ping(self) -> None:
        await self.readers.run(lambda c: c.execute("SELECT 1").fetchone())

    async def create(self, write: Callable[[sqlite3.Connection], object], what: str, ident: str) -> None:
        """Run an insert; a taken id becomes :class:`Conflict`, a dangling reference :class:`InvalidInput`."""

        def run(conn: sqlite3.Connection) -> None:
            try:
                write(conn)
            except sqlite3.IntegrityError as exc:
                if "FOREIGN KEY" in str(exc):
                    raise InvalidInput(f"{what} {ident!r} refers to something that does not exist") from exc
                raise Conflict(f"{what} {ident!r} already exists") from exc

        await self.writer.run(run)

    async def insert(self, sql: str, args: tuple[Any, ...], what: str) -> None:
        """:meth:`create` with one statement whose first argument is the new object's id."""
        await self.create(lambda conn: conn.execute(sql, args), what, args[0])

"""The on-disk spool: every reading and log line is written here before it is sent.

A row leaves the spool only when the broker has acknowledged the message that carried it
(QoS 1), so readings survive a lost link, ``kill -9`` and a power cut. SQLite in WAL mode
with ``synchronous=FULL`` makes each committed append durable.

Sequence numbers: each sensor key has its own counter, kept in the spool and bumped in the
same transaction as the append, so the hub can drop redeliveries by ``(device, key, seq)``.
A new key starts at the current time in microseconds: if the spool file is ever lost, the
counters restart above every number used before (as long as a sensor reports less than a
million readings a second), so the hub never mistakes new readings for old duplicates.

Policy when full (``max_bytes``): the oldest rows are dropped, counted and reported.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from contracts.telemetry import Value

TELEMETRY = "t"
LOGS = "l"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    body BLOB NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS seqs (key TEXT PRIMARY KEY, next INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
#: After trimming, the spool holds at most this share of its cap, so that trimming is rare.
_TRIM_TO = 0.9


@dataclass(frozen=True, slots=True)
class Row:
    """One spooled item: ``body`` is the JSON object to send, ``kind`` says on which topic."""

    id: int
    kind: str
    body: bytes


@dataclass(frozen=True, slots=True)
class SpoolStats:
    """What the heartbeat reports about the spool."""

    depth: int
    oldest_ms: int | None
    dropped: int
    bytes_used: int


class Spool:
    """A durable FIFO of telemetry readings and log lines, safe to use from several threads."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self._path = path
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed append survives a power cut, not only a process crash.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        self._page_size: int = self._conn.execute("PRAGMA page_size").fetchone()[0]
        self._depth: int = self._conn.execute("SELECT count(*) FROM spool").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def append_readings(self, readings: Iterable[tuple[str, Value, int]], now_ms: int) -> int:
        """Spool ``(key, value, ts)`` readings with their next sequence numbers; return how many."""
        with self._lock:
            with self._transaction():
                rows = []
                seqs: dict[str, int] = {}
                for key, value, ts in readings:
                    seq = seqs.get(key)
                    if seq is None:
                        seq = self._next_seq(key)
                    seqs[key] = seq + 1
                    rows.append((TELEMETRY, orjson.dumps({"ts": ts, "values": {key: value}, "seq": seq}), now_ms))
                self._conn.executemany(
                    "INSERT INTO seqs(key, next) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET next = excluded.next",
                    list(seqs.items()),
                )
                self._insert(rows)
            return len(rows)

    def append_logs(self, records: Iterable[dict[str, object]], now_ms: int) -> int:
        """Spool log records (JSON objects); return how many."""
        rows = [(LOGS, orjson.dumps(record), now_ms) for record in records]
        with self._lock:
            with self._transaction():
                self._insert(rows)
            return len(rows)

    def batch(self, after_id: int, max_items: int, max_bytes: int) -> list[Row]:
        """The oldest rows after ``after_id``, all of one kind, within the item and byte limits.

        The first row is always included, even alone over ``max_bytes``, so nothing can stall.
        """
        with self._lock:
            cursor = self._conn.execute(
                "SELECT id, kind, body FROM spool WHERE id > ? ORDER BY id LIMIT ?", (after_id, max_items)
            )
            rows: list[Row] = []
            size = 0
            for row_id, kind, body in cursor:
                if rows and (kind != rows[0].kind or size + len(body) > max_bytes):
                    break
                rows.append(Row(row_id, kind, body))
                size += len(body) + 1
            return rows

    def has_after(self, row_id: int) -> bool:
        """Whether a row follows ``row_id`` (then a batch ending there cannot grow by waiting)."""
        with self._lock:
            return self._conn.execute("SELECT 1 FROM spool WHERE id > ? LIMIT 1", (row_id,)).fetchone() is not None

    def ack(self, ids: list[int]) -> None:
        """Remove rows the broker acknowledged (ids already trimmed away are ignored)."""
        with self._lock, self._transaction():
            # One transaction: in autocommit mode every DELETE would be its own fsync.
            before = self._conn.total_changes
            self._conn.executemany("DELETE FROM spool WHERE id = ?", [(i,) for i in ids])
            self._depth -= self._conn.total_changes - before

    def stats(self) -> SpoolStats:
        with self._lock:
            oldest = self._conn.execute("SELECT created FROM spool ORDER BY id LIMIT 1").fetchone()
            return SpoolStats(self._depth, oldest[0] if oldest else None, self._dropped(), self._bytes_used())

    @property
    def depth(self) -> int:
        return self._depth

    def _next_seq(self, key: str) -> int:
        row = self._conn.execute("SELECT next FROM seqs WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else time.time_ns() // 1000

    def _insert(self, rows: list[tuple[str, bytes, int]]) -> None:
        """Insert rows, then trim to the cap (inside the caller's transaction)."""
        self._conn.executemany("INSERT INTO spool(kind, body, created) VALUES (?, ?, ?)", rows)
        self._depth += len(rows)
        self._trim()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        depth = self._depth
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            self._depth = depth
            raise
        self._conn.execute("COMMIT")

    def _bytes_used(self) -> int:
        pages: int = self._conn.execute("PRAGMA page_count").fetchone()[0]
        free: int = self._conn.execute("PRAGMA freelist_count").fetchone()[0]
        return (pages - free) * self._page_size

    def _dropped(self) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE name = 'dropped'").fetchone()
        return int(row[0]) if row else 0

    def _trim(self) -> None:
        """Drop the oldest rows while the spool is over its cap (with the lock held, in a transaction)."""
        used = self._bytes_used()
        if used <= self._max_bytes or self._depth == 0:
            return
        per_row = used / self._depth
        keep = int(self._max_bytes * _TRIM_TO / per_row)
        excess = self._depth - keep
        if excess <= 0:
            return
        before = self._conn.total_changes
        self._conn.execute("DELETE FROM spool WHERE id IN (SELECT id FROM spool ORDER BY id LIMIT ?)", (excess,))
        dropped = self._conn.total_changes - before
        self._conn.execute(
            "INSERT INTO meta(name, value) VALUES ('dropped', ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (dropped,),
        )
        self._depth -= dropped

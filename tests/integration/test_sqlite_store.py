"""What only the SQLite adapter promises: WAL, versioned migrations, clear refusals of bad files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hub.errors import ConfigError, StoreUnavailable
from hub.store.sqlite import migrations
from hub.store.sqlite.adapter import SqliteStore

pytestmark = pytest.mark.timeout(30)


def _pragma(path: Path, name: str) -> object:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


async def test_new_database_is_wal_at_the_latest_version(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "hub.db"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    assert _pragma(path, "journal_mode") == "wal"
    assert _pragma(path, "user_version") == len(migrations.MIGRATIONS)


async def test_pending_migrations_apply_and_a_failing_one_leaves_the_old_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hub.db"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    current = len(migrations.MIGRATIONS)
    good = "CREATE TABLE extra_good (id INTEGER PRIMARY KEY);"
    bad = "CREATE TABLE extra_bad (id INTEGER PRIMARY KEY); INSERT INTO no_such_table VALUES (1);"
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, good, bad])
    with pytest.raises(StoreUnavailable, match="no such table"):
        await SqliteStore(path).open()
    assert _pragma(path, "user_version") == current + 1
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "extra_good" in tables and "extra_bad" not in tables


async def test_newer_schema_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(migrations.MIGRATIONS) + 5}")
    with pytest.raises(ConfigError, match="newer than this Fieldhub knows"):
        await SqliteStore(path).open()


async def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreUnavailable, match="sqlite store failed"):
        await SqliteStore(path).open()

"""What only the SQLite adapter promises: WAL, versioned migrations, clear refusals of bad files."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.devices import Device, DeviceKind, Tenant
from contracts.telemetry import Reading
from hub.errors import ConfigError, Conflict, StoreUnavailable
from hub.store.apps import AppVersionRecord, DeploymentRecord, DeploymentStatus, Transition
from hub.store.identity import SessionRecord, SessionStatus, UserRecord
from hub.store.logs import LogQuery
from hub.store.sqlite import migrations
from hub.store.sqlite.backend import sqlite_backend
from hub.store.sqlite.connections import Checkpointer, ConnectionPool
from hub.store.state import StateKind
from hub.store.telemetry import DeviceReadings, RangeQuery

pytestmark = pytest.mark.timeout(30)


def _pragma(path: Path, name: str) -> object:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


async def test_new_database_is_wal_at_the_latest_version(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "hub.db"
    store = sqlite_backend(path)
    await store.database.open()
    await store.database.close()
    assert _pragma(path, "journal_mode") == "wal"
    assert _pragma(path, "user_version") == len(migrations.MIGRATIONS)


async def test_pending_migrations_apply_and_a_failing_one_leaves_the_old_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hub.db"
    store = sqlite_backend(path)
    await store.database.open()
    await store.database.close()
    current = len(migrations.MIGRATIONS)
    good = "CREATE TABLE extra_good (id INTEGER PRIMARY KEY);"
    bad = "CREATE TABLE extra_bad (id INTEGER PRIMARY KEY); INSERT INTO no_such_table VALUES (1);"
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, good, bad])
    with pytest.raises(StoreUnavailable, match="no such table"):
        await sqlite_backend(path).database.open()
    assert _pragma(path, "user_version") == current + 1
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "extra_good" in tables and "extra_bad" not in tables


async def test_newer_schema_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(migrations.MIGRATIONS) + 5}")
    with pytest.raises(ConfigError, match="newer than this Fieldhub knows"):
        await sqlite_backend(path).database.open()


async def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreUnavailable, match="sqlite store failed"):
        await sqlite_backend(path).database.open()


async def test_points_of_a_version_4_database_move_into_chunks(tmp_path: Path) -> None:
    """Migration 5: every point keeps its value, time and identity (redeliveries are still dropped)."""
    path = tmp_path / "hub.db"
    t0 = 1_763_464_000_000
    with sqlite3.connect(path, isolation_level=None) as conn:
        for step in migrations.MIGRATIONS[:4]:
            assert isinstance(step, str)
            conn.executescript(step)
        conn.execute("PRAGMA user_version = 4")
        conn.execute("INSERT INTO tenants VALUES ('t', 't', 0)")
        conn.execute(
            "INSERT INTO devices(id, tenant, name, kind, labels, enabled, status, created, secret_hash) "
            "VALUES ('d1', 't', 'd1', 'sensor', '{}', 1, 'offline', 0, 'h')"
        )
        conn.execute("INSERT INTO series(id, device_id, key) VALUES (1, 'd1', 'seq'), (2, 'd1', 'plain')")
        rows = [(1, i, t0 + i, 0, float(i), None) for i in range(5000)]  # more than one chunk
        rows += [
            (2, -1 - (t0 + i), t0 + i, v, n, s)
            for i, (v, n, s) in enumerate([(0, 1.5, None), (1, 1.0, None), (2, None, "x")])
        ]
        conn.executemany("INSERT INTO points(series, ident, ts, vtype, num, txt) VALUES (?, ?, ?, ?, ?, ?)", rows)
    store = sqlite_backend(path)
    await store.database.open()
    try:
        assert _pragma(path, "user_version") == len(migrations.MIGRATIONS)
        moved = await store.telemetry.query_range(RangeQuery("d1", "seq", limit=10_000))
        assert moved == [(t0 + i, float(i)) for i in range(5000)]
        assert await store.telemetry.query_range(RangeQuery("d1", "plain")) == [
            (t0, 1.5),
            (t0 + 1, True),
            (t0 + 2, "x"),
        ]
        again = [
            DeviceReadings("d1", "t", t0, [Reading("seq", t0 + 7, 7.0, 7), Reading("plain", t0 + 2, "x", None)]),
        ]
        result = await store.telemetry.write_points(again)
        assert (result.stored, result.duplicates) == (0, 2)
    finally:
        await store.database.close()


async def test_small_chunks_of_a_slow_series_are_merged(tmp_path: Path) -> None:
    """A device sending one reading at a time: its one-point chunks are merged, nothing lost or doubled."""
    path = tmp_path / "hub.db"
    store = sqlite_backend(path)
    await store.database.open()
    t0 = 1_763_464_000_000
    try:
        await store.registry.create_tenant(Tenant(id="t", name="t", created=datetime.now(UTC)))
        await store.registry.create_device(
            Device(id="d1", name="d1", tenant="t", kind=DeviceKind.DEVICE, created=datetime.now(UTC)), "h"
        )
        for i in range(300):
            await store.telemetry.write_points([DeviceReadings("d1", "t", t0 + i, [Reading("v", t0 + i, float(i), i)])])
        again = await store.telemetry.write_points([DeviceReadings("d1", "t", t0, [Reading("v", t0 + 7, 7.0, 7)])])
        assert (again.stored, again.duplicates) == (0, 1)
    finally:
        await store.database.close()  # waits for a merge still running
    with sqlite3.connect(path) as conn:
        (rows,) = conn.execute("SELECT count(*) FROM chunks").fetchone()
    # Merged every 64 small writes: what is left is the last unmerged stretch and a few merged chunks.
    assert rows <= 64 + 4, f"{rows} chunk rows for 300 points"
    store = sqlite_backend(path)
    await store.database.open()
    try:
        stored = await store.telemetry.query_range(RangeQuery("d1", "v", limit=1000))
        assert stored == [(t0 + i, float(i)) for i in range(300)]
    finally:
        await store.database.close()


async def test_commits_leave_the_log_to_the_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    writer = ConnectionPool(path, 1, "test-writer")
    checkpointer = Checkpointer(path, interval_s=3600)  # only the checkpoint this test asks for
    try:
        await writer.run(lambda c: c.execute("CREATE TABLE t (b BLOB)"))
        for _ in range(30):  # 1,500 commits of a page each: past SQLite's own 1,000-page checkpoint
            await writer.run(lambda c: c.executemany("INSERT INTO t VALUES (?)", [(b"x" * 4000,)] * 50))
        busy, frames, copied = await checkpointer.checkpoint()
        assert busy == 0
        assert frames > 1000  # no commit checkpointed (that would have restarted the log)
        assert copied == frames
        assert await writer.run(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 1500
    finally:
        checkpointer.close()
        writer.close()


VERSION_6_TABLES = {
    "tenants",
    "devices",
    "series",
    "latest",
    "state",
    "users",
    "provisioning_tokens",
    "chunks",
    "outbox",
    "outbox_cursors",
}


async def test_heartbeats_of_a_version_6_database_move_to_their_own_table(tmp_path: Path) -> None:
    """Migration 7: heartbeats leave the device state table; desired and reported state stay."""
    path = tmp_path / "hub.db"
    store = sqlite_backend(path)
    await store.database.open()
    await store.database.close()
    with sqlite3.connect(path, isolation_level=None) as conn:
        # Back to version 6 by hand: a heartbeat kept as device state, as version 6 did.
        # Every table a later version made goes (virtual tables first: they own their shadow tables).
        tables = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY sql NOT LIKE 'CREATE VIRTUAL%'"
        ).fetchall()
        for (name,) in tables:
            if name not in VERSION_6_TABLES:
                conn.execute(f'DROP TABLE IF EXISTS "{name}"')
        conn.executescript(
            "DROP TRIGGER device_labels_added; DROP TRIGGER device_labels_changed;"
            " DROP TRIGGER device_labels_removed; DROP INDEX devices_by_status; DROP INDEX devices_by_kind;"
            " DROP TRIGGER device_profile_added; DROP TRIGGER device_profile_changed;"
            " DROP TRIGGER device_profile_removed; DROP INDEX devices_by_profile;"
            " ALTER TABLE devices DROP COLUMN profile;"
            " ALTER TABLE users DROP COLUMN token_version;"
            " ALTER TABLE users DROP COLUMN source; ALTER TABLE users DROP COLUMN last_sign_in;"
            " ALTER TABLE users DROP COLUMN disabled;"
            " ALTER TABLE tenants DROP COLUMN telemetry_days; ALTER TABLE tenants DROP COLUMN logs_days;"
            " CREATE TABLE node_logs (id INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL,"
            " ts INTEGER NOT NULL, level TEXT NOT NULL, logger TEXT NOT NULL, message TEXT NOT NULL);"
            " PRAGMA user_version = 6;"
        )
        conn.execute("INSERT INTO state VALUES ('gw1', 'heartbeat', '{\"cpu\": 7}', 3, 1000)")
        conn.execute("INSERT INTO state VALUES ('gw1', 'desired', '{\"interval\": 5}', 1, 900)")
        conn.execute(
            "INSERT INTO node_logs(device_id, ts, level, logger, message) VALUES ('gw1', 1, 'INFO', 'a', 'up')"
        )
    store = sqlite_backend(path)
    await store.database.open()
    try:
        beat = await store.nodes.get_heartbeat("gw1")
        assert beat is not None and (beat.doc, beat.received) == ({"cpu": 7}, 1000)
        desired = await store.state.get_state("gw1", StateKind.DESIRED)
        assert desired is not None and desired.doc == {"interval": 5}
        # Migration 11 moves the lines kept per node into the log store.
        [line] = await store.logs.search(LogQuery(node="gw1", text="up"))
        assert (line.ts, line.level_name, line.logger, line.message) == (1, "INFO", "a", "up")
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT count(*) FROM state WHERE kind = 'heartbeat'").fetchone()[0] == 0
    finally:
        await store.database.close()


async def test_users_of_a_version_8_database_start_at_token_version_0_with_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 9: users keep everything and get token version 0; token sessions can be recorded."""
    path = tmp_path / "hub.db"
    with monkeypatch.context() as patched:
        patched.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:8])
        old = sqlite_backend(path)
        await old.database.open()
        await old.database.close()
    assert _pragma(path, "user_version") == 8
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO users VALUES ('alice', 'h-alice', 'admin', NULL, 5)")
    store = sqlite_backend(path)
    await store.database.open()
    try:
        assert _pragma(path, "user_version") == len(migrations.MIGRATIONS)
        assert await store.identity.get_user("alice") == UserRecord("alice", "h-alice", "admin", None, 5, 0)
        session = SessionRecord("s1", "alice", 10, 20)
        await store.identity.create_session(session)
        assert await store.identity.session_status("s1") == SessionStatus(session, 0)
        changed = await store.identity.update_user("alice", role="user")
        assert changed is not None and (changed.role, changed.token_version) == ("user", 1)
    finally:
        await store.database.close()


async def test_a_version_9_database_gets_the_apps_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Migration 10: what version 9 held stays; app versions and deployments with timelines can be kept."""
    path = tmp_path / "hub.db"
    with monkeypatch.context() as patched:
        patched.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:9])
        old = sqlite_backend(path)
        await old.database.open()
        await old.database.close()
    # Written as version 9 wrote it: today's adapter knows columns that version lacks.
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "INSERT INTO users(username, password_hash, role, tenant, created) "
            "VALUES ('alice', 'h-alice', 'tenant_admin', 'ta', 5)"
        )
    assert _pragma(path, "user_version") == 9
    store = sqlite_backend(path)
    await store.database.open()
    try:
        assert _pragma(path, "user_version") == len(migrations.MIGRATIONS)
        assert await store.identity.get_user("alice") == UserRecord("alice", "h-alice", "tenant_admin", "ta", 5)
        pushed = AppVersionRecord("ta", "climate", "1.0.0", "ab" * 32, 10, "{}", 7, "alice")
        await store.apps.add_version(pushed)
        running = DeploymentStatus.RUNNING
        dep = DeploymentRecord("dep-000000000001", "ta", "climate", "1.0.0", 1, running, 8, 8)
        created = await store.apps.create_deployment(dep, "placed")
        assert created.timeline == (Transition(8, running, "placed"),)
        with pytest.raises(Conflict):
            await store.apps.delete_version("ta", "climate", "1.0.0")
        with sqlite3.connect(path) as conn:
            plan = " ".join(
                row[3]
                for row in conn.execute(
                    "EXPLAIN QUERY PLAN SELECT id FROM deployments WHERE tenant = ? AND app = ? AND version = ?",
                    ("ta", "climate", "1.0.0"),
                )
            )
        assert "deployments_by_app" in plan
    finally:
        await store.database.close()

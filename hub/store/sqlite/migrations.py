"""Versioned schema of the SQLite store; ``PRAGMA user_version`` records the applied version.

Append a new entry to :data:`MIGRATIONS` for every change; never edit an applied one. An entry is
an SQL script, or a function for a step that must move data through Python.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from hub.errors import ConfigError
from hub.store.columns import MAX_POINTS, Columns, decode_value, ident
from hub.store.sqlite import chunks, rollups

_CHUNKS = """
    CREATE TABLE chunks (
        id INTEGER PRIMARY KEY,
        series INTEGER NOT NULL,
        min_ts INTEGER NOT NULL,
        max_ts INTEGER NOT NULL,
        min_ident INTEGER NOT NULL,
        max_ident INTEGER NOT NULL,
        n INTEGER NOT NULL,
        data BLOB NOT NULL
    );
    CREATE INDEX chunks_by_start ON chunks(series, min_ts);
    CREATE INDEX chunks_by_end ON chunks(series, max_ts);
    CREATE INDEX chunks_by_ident ON chunks(series, max_ident);
"""


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """The statements of ``script`` inside a function step's transaction (executescript would commit it first)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _points_to_chunks(conn: sqlite3.Connection) -> None:
    """5: one row per point becomes one row per chunk of up to MAX_POINTS points (see chunks.py)."""
    _run_script(conn, _CHUNKS)
    series_ids = [row[0] for row in conn.execute("SELECT DISTINCT series FROM points")]
    for series in series_ids:
        columns = Columns()
        rows = conn.execute("SELECT ts, ident, vtype, num, txt FROM points WHERE series = ? ORDER BY ts", (series,))
        for ts, old_ident, vtype, num, txt in rows.fetchall():
            # Version 1 identified unsequenced points by -1 - ts; chunks by ts + NO_SEQ (rising with time).
            point_ident = old_ident if old_ident >= 0 else ident(None, -1 - old_ident)
            columns.append(ts, point_ident, decode_value(vtype, num, txt))
            if len(columns) == MAX_POINTS:
                chunks.insert(conn, series, columns)
                columns = Columns()
        if len(columns):
            chunks.insert(conn, series, columns)
    conn.execute("DROP TABLE points")


_ROLLUPS = """
    CREATE TABLE rollups (
        series INTEGER NOT NULL,
        span INTEGER NOT NULL,
        start INTEGER NOT NULL,
        n INTEGER NOT NULL,
        nums INTEGER NOT NULL,
        total REAL NOT NULL,
        low REAL,
        high REAL,
        PRIMARY KEY (series, span, start)
    ) WITHOUT ROWID;
    CREATE INDEX rollups_by_start ON rollups(span, start);
    ALTER TABLE tenants ADD COLUMN telemetry_days INTEGER;
    ALTER TABLE tenants ADD COLUMN logs_days INTEGER
"""


def _rollups(conn: sqlite3.Connection) -> None:
    """19: rollups per series and span (hub/store/sqlite/rollups.py), built from the stored chunks; and each
    tenant's retention of raw telemetry and logs, in days (NULL: the hub's default)."""
    _run_script(conn, _ROLLUPS)
    rollups.build(conn)


MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [
    # 1: registry, telemetry, state, users
    """
    CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created INTEGER NOT NULL
    );
    CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL REFERENCES tenants(id),
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        labels TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        status TEXT NOT NULL,
        created INTEGER NOT NULL,
        last_seen INTEGER,
        secret_hash TEXT NOT NULL
    );
    CREATE INDEX devices_by_tenant ON devices(tenant, id);
    -- A series is one key of one device; points refer to it by a small integer.
    CREATE TABLE series (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL,
        key TEXT NOT NULL,
        UNIQUE (device_id, key)
    );
    -- ident = seq when the device sent one, else -1 - ts: the primary key drops redeliveries.
    -- vtype: 0 number, 1 boolean (num holds 0/1), 2 string (txt).
    CREATE TABLE points (
        series INTEGER NOT NULL,
        ident INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        vtype INTEGER NOT NULL,
        num REAL,
        txt TEXT,
        PRIMARY KEY (series, ident)
    ) WITHOUT ROWID;
    CREATE INDEX points_by_time ON points(series, ts);
    CREATE TABLE latest (
        series INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,
        vtype INTEGER NOT NULL,
        num REAL,
        txt TEXT
    );
    CREATE TABLE state (
        device_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        doc TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        PRIMARY KEY (device_id, kind)
    );
    CREATE TABLE users (
        username TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        tenant TEXT,
        created INTEGER NOT NULL
    );
    """,
    # 2: provisioning tokens for gateway enrollment
    """
    CREATE TABLE provisioning_tokens (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL REFERENCES tenants(id),
        secret_hash TEXT NOT NULL,
        expires INTEGER NOT NULL,
        uses_left INTEGER NOT NULL,
        labels TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created INTEGER NOT NULL
    );
    CREATE INDEX provisioning_tokens_by_tenant ON provisioning_tokens(tenant, created);
    """,
    # 3: the latest log lines of each node
    """
    CREATE TABLE node_logs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        device_id TEXT NOT NULL,
        ts INTEGER NOT NULL,
        level TEXT NOT NULL,
        logger TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE INDEX node_logs_by_device ON node_logs(device_id, id);
    """,
    # 4: the device secret in the external broker's hash format (NULL for devices made before)
    """
    ALTER TABLE devices ADD COLUMN broker_hash TEXT;
    """,
    # 5: telemetry in chunks
    _points_to_chunks,
    # 6: the outbox of stored batches and the cursors of the consumers that follow it (see hub/store/outbox.py);
    # AUTOINCREMENT, so a position is never given twice, even once every batch was trimmed away.
    """
    CREATE TABLE outbox (
        position INTEGER PRIMARY KEY AUTOINCREMENT,
        created INTEGER NOT NULL,
        data BLOB NOT NULL
    );
    CREATE TABLE outbox_cursors (
        name TEXT PRIMARY KEY,
        position INTEGER NOT NULL,
        updated INTEGER NOT NULL
    );
    """,
    # 7: heartbeats get a table of their own (they had been kept as a third kind of device state)
    """
    CREATE TABLE heartbeats (
        node_id TEXT PRIMARY KEY,
        doc TEXT NOT NULL,
        received INTEGER NOT NULL
    );
    INSERT INTO heartbeats(node_id, doc, received) SELECT device_id, doc, updated FROM state WHERE kind = 'heartbeat';
    DELETE FROM state WHERE kind = 'heartbeat';
    ALTER TABLE node_logs RENAME COLUMN device_id TO node_id;
    """,
    # 8: leases of the outbox's passing followers (live feeds); ingest appends to the outbox only when followed
    """
    CREATE TABLE outbox_followers (
        name TEXT PRIMARY KEY,
        until INTEGER NOT NULL
    );
    """,
    # 9: API token sessions and each user's token version (see hub/store/identity.py); every request looks its
    # session up by id, joined to its user: one seek in each table.
    """
    ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE user_sessions (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        issued INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE INDEX user_sessions_by_user ON user_sessions(username);
    CREATE INDEX user_sessions_by_expiry ON user_sessions(expires);
    """,
    # 10: app versions, deployments and their timelines (see hub/store/sqlite/apps.py for the queries each
    # index serves); a deployment refers to its app version, so a version in use cannot go.
    """
    CREATE TABLE app_versions (
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        digest TEXT NOT NULL,
        size INTEGER NOT NULL,
        manifest TEXT NOT NULL,
        created INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        PRIMARY KEY (tenant, name, version)
    );
    CREATE TABLE deployments (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        app TEXT NOT NULL,
        version TEXT NOT NULL,
        replicas INTEGER NOT NULL,
        status TEXT NOT NULL,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        placement TEXT NOT NULL,
        instances TEXT NOT NULL,
        schedule TEXT,
        FOREIGN KEY (tenant, app, version) REFERENCES app_versions(tenant, name, version)
    );
    CREATE INDEX deployments_by_app ON deployments(tenant, app, version);
    CREATE INDEX deployments_by_tenant ON deployments(tenant, created);
    CREATE INDEX deployments_by_status ON deployments(status, created);
    CREATE TABLE deployment_timeline (
        seq INTEGER PRIMARY KEY,
        deployment_id TEXT NOT NULL REFERENCES deployments(id),
        ts INTEGER NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX deployment_timeline_by_deployment ON deployment_timeline(deployment_id, seq);
    """,
    # 11: every log line of the nodes, their apps and the hub (hub/store/sqlite/logs.py), its message indexed for
    # text search by an external-content FTS5 table that the triggers keep in step with the rows; the lines kept
    # per node before move over (their tenant from the device, levels as numbers).
    """
    CREATE TABLE log_lines (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        node TEXT NOT NULL,
        ts INTEGER NOT NULL,
        level INTEGER NOT NULL,
        logger TEXT NOT NULL,
        message TEXT NOT NULL,
        app TEXT,
        version TEXT,
        deployment TEXT,
        instance TEXT,
        service TEXT,
        stream TEXT
    );
    CREATE INDEX log_lines_by_time ON log_lines(ts);
    CREATE INDEX log_lines_by_node ON log_lines(node, ts);
    CREATE INDEX log_lines_by_tenant ON log_lines(tenant, ts);
    CREATE INDEX log_lines_by_deployment ON log_lines(deployment, ts) WHERE deployment IS NOT NULL;
    CREATE VIRTUAL TABLE log_text USING fts5(message, content='log_lines', content_rowid='id');
    CREATE TRIGGER log_lines_indexed AFTER INSERT ON log_lines BEGIN
        INSERT INTO log_text(rowid, message) VALUES (new.id, new.message);
    END;
    CREATE TRIGGER log_lines_unindexed AFTER DELETE ON log_lines BEGIN
        INSERT INTO log_text(log_text, rowid, message) VALUES ('delete', old.id, old.message);
    END;
    INSERT INTO log_lines(tenant, node, ts, level, logger, message)
        SELECT coalesce(d.tenant, ''), n.node_id, n.ts,
               CASE n.level WHEN 'DEBUG' THEN 10 WHEN 'INFO' THEN 20 WHEN 'WARNING' THEN 30
                            WHEN 'ERROR' THEN 40 ELSE 50 END,
               n.logger, n.message
        FROM node_logs n LEFT JOIN devices d ON d.id = n.node_id ORDER BY n.id;
    DROP TABLE node_logs;
    """,
    # 12: platform events (hub/store/sqlite/events.py: an index per filter, each ending in id for the newest-first
    # order) and the tenants' webhook subscriptions with their delivery counters.
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts INTEGER NOT NULL,
        tenant TEXT NOT NULL,
        kind TEXT NOT NULL,
        deployment TEXT,
        node TEXT,
        message TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX events_by_tenant ON events(tenant, id);
    CREATE INDEX events_by_time ON events(ts);
    CREATE INDEX events_by_kind ON events(kind, id);
    CREATE INDEX events_by_deployment ON events(deployment, id) WHERE deployment IS NOT NULL;
    CREATE INDEX events_by_node ON events(node, id) WHERE node IS NOT NULL;
    CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        url TEXT NOT NULL,
        kinds TEXT NOT NULL,
        secret TEXT NOT NULL,
        created INTEGER NOT NULL,
        delivered INTEGER NOT NULL DEFAULT 0,
        failed_attempts INTEGER NOT NULL DEFAULT 0,
        dropped INTEGER NOT NULL DEFAULT 0,
        last_attempt INTEGER,
        last_status INTEGER,
        last_error TEXT,
        last_delivered INTEGER
    );
    CREATE INDEX webhooks_by_tenant ON webhooks(tenant, created);
    """,
    # 13: device profiles, alarm rules, alarms, the rules' pending conditions and notification channels (see
    # hub/store/sqlite/alarms.py for the queries each index serves). The partial unique index allows one open
    # alarm per rule and device, whichever process raises it. store_versions counts the changes of profiles (a
    # device's profile included) and of rules, bumped by triggers in the writing transaction, so a cache in any
    # process learns of a change with one seek.
    """
    ALTER TABLE devices ADD COLUMN profile TEXT;
    CREATE INDEX devices_by_profile ON devices(tenant, profile) WHERE profile IS NOT NULL;
    CREATE TABLE profiles (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE TABLE rules (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        profile TEXT,
        doc TEXT NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE INDEX rules_by_profile ON rules(tenant, profile) WHERE profile IS NOT NULL;
    CREATE TABLE alarms (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        rule TEXT NOT NULL,
        rule_name TEXT NOT NULL,
        device TEXT NOT NULL,
        key TEXT,
        severity TEXT NOT NULL,
        state TEXT NOT NULL,
        message TEXT NOT NULL,
        value TEXT NOT NULL,
        raised INTEGER NOT NULL,
        acknowledged INTEGER,
        acknowledged_by TEXT,
        cleared INTEGER,
        cleared_by TEXT,
        updated INTEGER NOT NULL,
        history TEXT NOT NULL
    );
    CREATE UNIQUE INDEX alarms_open ON alarms(tenant, rule, device) WHERE state IN ('active', 'acknowledged');
    CREATE INDEX alarms_by_tenant ON alarms(tenant, raised);
    CREATE INDEX alarms_by_device ON alarms(device, raised);
    CREATE INDEX alarms_by_rule ON alarms(rule, raised);
    CREATE INDEX alarms_by_state ON alarms(state, raised);
    CREATE TABLE rule_pending (
        tenant TEXT NOT NULL,
        rule TEXT NOT NULL,
        device TEXT NOT NULL,
        since INTEGER NOT NULL,
        PRIMARY KEY (tenant, rule, device)
    ) WITHOUT ROWID;
    CREATE INDEX rule_pending_by_device ON rule_pending(device);
    CREATE TABLE channels (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        rate_per_min INTEGER NOT NULL,
        secret TEXT,
        created INTEGER NOT NULL,
        delivered INTEGER NOT NULL DEFAULT 0,
        failed_attempts INTEGER NOT NULL DEFAULT 0,
        dropped INTEGER NOT NULL DEFAULT 0,
        suppressed INTEGER NOT NULL DEFAULT 0,
        last_attempt INTEGER,
        last_error TEXT,
        last_delivered INTEGER
    );
    CREATE INDEX channels_by_tenant ON channels(tenant, created);
    CREATE TABLE store_versions (
        name TEXT PRIMARY KEY,
        version INTEGER NOT NULL
    );
    INSERT INTO store_versions(name, version) VALUES ('profiles', 0), ('rules', 0);
    CREATE TRIGGER profiles_added AFTER INSERT ON profiles BEGIN
        UPDATE store_versions SET version = version + 1 WHERE name = 'profiles';
    END;
    CREATE TRIGGER profiles_changed AFTER UPDATE ON profiles BEGIN
        UPDATE store_versions SET version = version + 1 WHERE name = 'profiles';
    END;
    CREATE TRIGGER profiles_removed AFTER DELETE ON profiles BEGIN
        UPDATE store_versions SET version = version + 1 WHERE name = 'profiles';
    END;
    CREATE TRIGGER device_profile_added AFTER INSERT ON devices WHEN new.profile IS NOT NULL BEGIN
        UPDATE store_versions SET version = version + 1 WHERE name = 'profiles';
    END;
    CREATE TRIGGER device_profile_changed AFTER UPDATE OF profile ON devices
        WHEN old.profile IS NOT new.profile BEGIN
        UPDATE store_versions SET version = version + 1 WHERE name = 'profiles';
    END;
    CREATE TRIGGER device_profile_removed AFTER DELETE ON devices WHEN old.profile IS NOT NULL BEGIN
        UPDATE store_versions SET version = version + 1 WHERE name = 'profiles';
    END;
    CREATE TRIGGER rules_added AFTER INSERT ON rules BEGIN
        UPDATE store_versions SET version = version + 1 WHERE name = 'rules';
    END;
    CREATE TRIGGER rules_changed AFTER UPDATE ON rules BEGIN
        UPDATE store_versions SET version = version + 1 WHERE name = 'rules';
    END;
    CREATE TRIGGER rules_removed AFTER DELETE ON rules BEGIN
        UPDATE store_versions SET version = version + 1 WHERE name = 'rules';
    END;
    """,
    # 14: the id of the last alarm event the notification dispatcher handed to its channels (one row), so that a
    # restart goes on after it rather than from the newest event.
    """
    CREATE TABLE notify_cursor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        event INTEGER NOT NULL
    );
    """,
    # 15: users from a directory (LDAP) beside the local ones: where a user comes from, and when it last signed in.
    # A directory user's row holds no password hash (its password stays in the directory).
    """
    ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local';
    ALTER TABLE users ADD COLUMN last_sign_in INTEGER;
    """,
    # 16: API keys for automation (hub/store/api_keys.py), stored as a salted HMAC of their secret; and disabled
    # users, who neither sign in nor use their tokens and keys.
    """
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        creator TEXT NOT NULL,
        role TEXT NOT NULL,
        tenant TEXT,
        salt TEXT NOT NULL,
        digest TEXT NOT NULL,
        created INTEGER NOT NULL,
        expires INTEGER,
        last_used INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX api_keys_by_creator ON api_keys(creator);
    CREATE INDEX api_keys_by_tenant ON api_keys(tenant, created);
    ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
    """,
    # 17: the audit trail (hub/store/audit.py), and the sign-in guard's recent failures and locks per username or
    # client address (hub/store/signins.py).
    """
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts INTEGER NOT NULL,
        actor_kind TEXT,
        actor_id TEXT,
        action TEXT NOT NULL,
        target TEXT,
        tenant TEXT,
        address TEXT,
        outcome TEXT NOT NULL,
        status INTEGER,
        detail TEXT NOT NULL
    );
    CREATE INDEX audit_by_ts ON audit(ts);
    CREATE INDEX audit_by_tenant ON audit(tenant, id);
    CREATE INDEX audit_by_actor ON audit(actor_id, id);
    CREATE INDEX audit_by_action ON audit(action, id);
    CREATE INDEX audit_by_target ON audit(target, id);
    CREATE TABLE sign_in_failures (
        key TEXT NOT NULL,
        ts INTEGER NOT NULL
    );
    CREATE INDEX sign_in_failures_by_key ON sign_in_failures(key, ts);
    CREATE INDEX sign_in_failures_by_ts ON sign_in_failures(ts);
    CREATE TABLE sign_in_locks (
        key TEXT PRIMARY KEY,
        until INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
    # 18: named leases (hub/store/leases.py): the leader of the hub processes on one store holds ``leader``.
    """
    CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        until INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
    # 19: telemetry rollups and per-tenant retention
    _rollups,
    # 20: device listings that stay fast at 100,000 devices: each label a row of its own, indexed (a JSON column
    # cannot be), kept by triggers; the status and kind filters indexed in id order, as pages are read, with the
    # tenant, so that a tenant's count reads the index alone.
    """
    CREATE TABLE device_labels (
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        device TEXT NOT NULL,
        PRIMARY KEY (key, value, device)
    ) WITHOUT ROWID;
    CREATE INDEX device_labels_by_device ON device_labels(device);
    INSERT INTO device_labels(key, value, device) SELECT j.key, j.value, d.id FROM devices d, json_each(d.labels) j;
    CREATE TRIGGER device_labels_added AFTER INSERT ON devices BEGIN
        INSERT INTO device_labels(key, value, device) SELECT key, value, new.id FROM json_each(new.labels);
    END;
    CREATE TRIGGER device_labels_changed AFTER UPDATE OF labels ON devices BEGIN
        DELETE FROM device_labels WHERE device = old.id;
        INSERT INTO device_labels(key, value, device) SELECT key, value, new.id FROM json_each(new.labels);
    END;
    CREATE TRIGGER device_labels_removed AFTER DELETE ON devices BEGIN
        DELETE FROM device_labels WHERE device = old.id;
    END;
    CREATE INDEX devices_by_status ON devices(status, id, tenant);
    CREATE INDEX devices_by_kind ON devices(kind, id, tenant);
    """,
    # 21: named cursors of the consumers of events (hub/store/events.py): the webhook dispatcher's, so that the next
    # leader resumes deliveries where the last one stopped.
    """
    CREATE TABLE event_cursors (
        name TEXT PRIMARY KEY,
        event INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
    # 22: the notification dispatcher's cursor becomes the named cursor 'notify' (hub.store.events.NOTIFY_CURSOR) of
    # the consumers of events, which stays before notifications still owed (hub/notify/dispatcher.py).
    """
    INSERT INTO event_cursors(name, event) SELECT 'notify', event FROM notify_cursor;
    DROP TABLE notify_cursor;
    """,
]


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations in one transaction each; return the resulting version."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > len(MIGRATIONS):
        raise ConfigError(
            f"database schema version {version} is newer than this Fieldhub knows ({len(MIGRATIONS)}); "
            "upgrade Fieldhub or point it at another data directory"
        )
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        if isinstance(step, str):
            # executescript commits first; wrap each migration so a failure leaves the old version intact.
            conn.executescript(f"BEGIN;\n{step}\nPRAGMA user_version = {number};\nCOMMIT;")
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            step(conn)
            conn.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return len(MIGRATIONS)

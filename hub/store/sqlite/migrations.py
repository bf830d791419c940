"""Versioned schema of the SQLite store; ``PRAGMA user_version`` records the applied version.

Append a new entry to :data:`MIGRATIONS` for every change; never edit an applied one.
"""

from __future__ import annotations

import sqlite3

from hub.errors import ConfigError

MIGRATIONS: list[str] = [
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
]


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations in one transaction each; return the resulting version."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > len(MIGRATIONS):
        raise ConfigError(
            f"database schema version {version} is newer than this Fieldhub knows ({len(MIGRATIONS)}); "
            "upgrade Fieldhub or point it at another data directory"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        # executescript commits first; wrap each migration so a failure leaves the old version intact.
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    return len(MIGRATIONS)

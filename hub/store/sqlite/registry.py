"""Registry statements of the SQLite store: tenants and devices (:class:`hub.store.registry.RegistryStore`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from contracts.devices import Device, DeviceKind, DeviceStatus, Tenant
from contracts.telemetry import from_epoch_ms, to_epoch_ms
from hub.store.registry import DevicePatchRecord, DeviceQuery, DeviceSecret
from hub.store.sqlite import telemetry
from hub.store.sqlite.connections import transaction
from hub.store.sqlite.database import SqliteDatabase
from hub.store.sqlite.where import Where

# Interpolated into SQL (the S608 noqa below): a constant, never input.
_TENANT_COLUMNS = "id, name, created, telemetry_days, logs_days"
_DEVICE_COLUMNS = "id, tenant, name, kind, labels, enabled, status, created, last_seen, profile"
_SECRET_COLUMNS = "id, tenant, secret_hash, enabled, broker_hash"  # noqa: S105 - column names


def _escape_like(text: str) -> str:
    """``text`` matched literally by LIKE: its wildcards and the escape character escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _secret(row: tuple[Any, ...]) -> DeviceSecret:
    return DeviceSecret(row[0], row[1], row[2], bool(row[3]), row[4])


def _device(row: tuple[Any, ...]) -> Device:
    device_id, tenant, name, kind, labels, enabled, status, created, last_seen, profile = row
    return Device(
        id=device_id,
        tenant=tenant,
        name=name,
        kind=DeviceKind(kind),
        labels=orjson.loads(labels),
        enabled=bool(enabled),
        status=DeviceStatus(status),
        created=from_epoch_ms(created),
        last_seen=None if last_seen is None else from_epoch_ms(last_seen),
        profile=profile,
    )


def _tenant(row: Sequence[Any]) -> Tenant:
    tenant_id, name, created, telemetry_days, logs_days = row
    return Tenant(
        id=tenant_id,
        name=name,
        created=from_epoch_ms(created),
        telemetry_days=telemetry_days,
        logs_days=logs_days,
    )


# What a tenant must no longer hold to be deleted: kind -> a count of it (constants, interpolated into SQL).
_TENANT_CONTENTS = {
    "devices": "SELECT count(*) FROM devices WHERE tenant = ?",
    "users": "SELECT count(*) FROM users WHERE tenant = ?",
    "apps": "SELECT count(DISTINCT name) FROM app_versions WHERE tenant = ?",
    "deployments": "SELECT count(*) FROM deployments WHERE tenant = ?",
    "profiles": "SELECT count(*) FROM profiles WHERE tenant = ?",
    "rules": "SELECT count(*) FROM rules WHERE tenant = ?",
    "channels": "SELECT count(*) FROM channels WHERE tenant = ?",
    "webhooks": "SELECT count(*) FROM webhooks WHERE tenant = ?",
}
# A deleted tenant's history, removed with it.
_TENANT_HISTORY = ("alarms", "rule_pending", "events", "log_lines", "provisioning_tokens", "api_keys")


def _delete_tenant(conn: sqlite3.Connection, tenant_id: str) -> dict[str, int] | None:
    with transaction(conn):
        if conn.execute("SELECT 1 FROM tenants WHERE id = ?", (tenant_id,)).fetchone() is None:
            return None
        counts = {kind: conn.execute(sql, (tenant_id,)).fetchone()[0] for kind, sql in _TENANT_CONTENTS.items()}
        left = {kind: n for kind, n in counts.items() if n}
        if left:
            return left
        for table in _TENANT_HISTORY:
            conn.execute(f"DELETE FROM {table} WHERE tenant = ?", (tenant_id,))  # noqa: S608 - constants
        conn.execute("DELETE FROM tenants WHERE id = ?", (tenant_id,))
        return {}


class SqliteRegistry:
    """Tenants and devices in the ``tenants`` and ``devices`` tables."""

    def __init__(self, db: SqliteDatabase, series: telemetry.SqliteTelemetry) -> None:
        self._db = db
        # A deleted device's series ids must leave the writer's cache with its rows.
        self._telemetry = series

    # tenants
    async def create_tenant(self, tenant: Tenant) -> None:
        await self._db.insert(
            "INSERT INTO tenants(id, name, created, telemetry_days, logs_days) VALUES (?, ?, ?, ?, ?)",
            (tenant.id, tenant.name, to_epoch_ms(tenant.created), tenant.telemetry_days, tenant.logs_days),
            "tenant",
        )

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        sql = f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE id = ?"  # noqa: S608 - constants only
        row = await self._db.readers.run(lambda c: c.execute(sql, (tenant_id,)).fetchone())
        return None if row is None else _tenant(row)

    async def list_tenants(self) -> list[Tenant]:
        sql = f"SELECT {_TENANT_COLUMNS} FROM tenants ORDER BY id"  # noqa: S608 - constants only
        rows = await self._db.readers.run(lambda c: c.execute(sql).fetchall())
        return [_tenant(row) for row in rows]

    async def rename_tenant(self, tenant_id: str, name: str) -> Tenant | None:
        sql = f"UPDATE tenants SET name = ? WHERE id = ? RETURNING {_TENANT_COLUMNS}"  # noqa: S608 - constants only
        row = await self._db.writer.run(lambda c: c.execute(sql, (name, tenant_id)).fetchone())
        return None if row is None else _tenant(row)

    async def set_tenant_retention(
        self, tenant_id: str, telemetry_days: int | None, logs_days: int | None
    ) -> Tenant | None:
        sql = (
            "UPDATE tenants SET telemetry_days = ?, logs_days = ? WHERE id = ? "  # noqa: S608 - constants only
            f"RETURNING {_TENANT_COLUMNS}"
        )
        row = await self._db.writer.run(lambda c: c.execute(sql, (telemetry_days, logs_days, tenant_id)).fetchone())
        return None if row is None else _tenant(row)

    async def delete_tenant(self, tenant_id: str) -> dict[str, int] | None:
        return await self._db.writer.run(lambda c: _delete_tenant(c, tenant_id))

    # devices
    async def create_device(self, device: Device, secret_hash: str, broker_hash: str | None = None) -> None:
        await self._db.insert(
            f"INSERT INTO devices({_DEVICE_COLUMNS}, secret_hash, broker_hash) VALUES ({', '.join('?' * 12)})",  # noqa: S608
            (
                device.id,
                device.tenant,
                device.name,
                device.kind.value,
                orjson.dumps(device.labels).decode(),
                int(device.enabled),
                device.status.value,
                to_epoch_ms(device.created),
                None,
                device.profile,
                secret_hash,
                broker_hash,
            ),
            "device",
        )

    async def get_device(self, device_id: str) -> Device | None:
        row = await self._db.readers.run(
            lambda c: c.execute(f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE id = ?", (device_id,)).fetchone()  # noqa: S608
        )
        return None if row is None else _device(row)

    async def list_devices(self, query: DeviceQuery) -> tuple[list[Device], int]:
        filters = (
            Where()
            .equals("tenant", query.tenant)
            .equals("status", None if query.status is None else query.status.value)
            .equals("kind", None if query.kind is None else query.kind.value)
            .equals("profile", query.profile)
        )
        if query.label is not None:
            filters.add("id IN (SELECT device FROM device_labels WHERE key = ? AND value = ?)", *query.label)
        if query.search:
            pattern = f"%{_escape_like(query.search)}%"
            filters.add("(id LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\')", pattern, pattern)
        where, args = filters.sql, filters.args

        def run(conn: sqlite3.Connection) -> tuple[list[Device], int]:
            (total,) = conn.execute(f"SELECT count(*) FROM devices {where}", args).fetchone()  # noqa: S608
            rows = conn.execute(
                f"SELECT {_DEVICE_COLUMNS} FROM devices {where} ORDER BY id LIMIT ? OFFSET ?",  # noqa: S608
                [*args, query.limit, query.offset],
            ).fetchall()
            return [_device(r) for r in rows], int(total)

        return await self._db.readers.run(run)

    async def update_device(self, device_id: str, patch: DevicePatchRecord) -> Device | None:
        sets: list[str] = []
        args: list[Any] = []
        if patch.name is not None:
            sets.append("name = ?")
            args.append(patch.name)
        if patch.labels is not None:
            sets.append("labels = ?")
            args.append(orjson.dumps(patch.labels).decode())
        if patch.enabled is not None:
            sets.append("enabled = ?")
            args.append(int(patch.enabled))
        if patch.profile is not None:
            sets.append("profile = ?")
            args.append(patch.profile or None)

        def run(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
            if sets:
                conn.execute(f"UPDATE devices SET {', '.join(sets)} WHERE id = ?", [*args, device_id])  # noqa: S608
            row: tuple[Any, ...] | None = conn.execute(
                f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE id = ?",  # noqa: S608
                (device_id,),
            ).fetchone()
            return row

        row = await self._db.writer.run(run)
        return None if row is None else _device(row)

    async def delete_device(self, device_id: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                deleted = conn.execute("DELETE FROM devices WHERE id = ?", (device_id,)).rowcount > 0
                telemetry.delete_device_data(conn, device_id)
                conn.execute("DELETE FROM state WHERE device_id = ?", (device_id,))
                conn.execute("DELETE FROM heartbeats WHERE node_id = ?", (device_id,))
                conn.execute("DELETE FROM log_lines WHERE node = ?", (device_id,))
                conn.execute("DELETE FROM rule_pending WHERE device = ?", (device_id,))
            self._telemetry.forget_device(device_id)
            return deleted

        return await self._db.writer.run(run)

    async def get_device_secret(self, device_id: str) -> DeviceSecret | None:
        row = await self._db.readers.run(
            lambda c: c.execute(
                f"SELECT {_SECRET_COLUMNS} FROM devices WHERE id = ?",  # noqa: S608
                (device_id,),
            ).fetchone()
        )
        return None if row is None else _secret(row)

    async def set_device_secret(self, device_id: str, secret_hash: str, broker_hash: str | None = None) -> bool:
        return await self._db.writer.run(
            lambda c: (
                c.execute(
                    "UPDATE devices SET secret_hash = ?, broker_hash = ? WHERE id = ?",
                    (secret_hash, broker_hash, device_id),
                ).rowcount
                > 0
            )
        )

    async def list_device_secrets(self) -> list[DeviceSecret]:
        rows = await self._db.readers.run(
            lambda c: c.execute(f"SELECT {_SECRET_COLUMNS} FROM devices ORDER BY id").fetchall()  # noqa: S608
        )
        return [_secret(row) for row in rows]

    async def set_status(self, device_id: str, status: DeviceStatus, ts: int) -> None:
        if status is DeviceStatus.ONLINE:
            sql = "UPDATE devices SET status = ?, last_seen = max(coalesce(last_seen, 0), ?) WHERE id = ?"
            args: tuple[Any, ...] = (status.value, ts, device_id)
        else:
            sql, args = "UPDATE devices SET status = ? WHERE id = ?", (status.value, device_id)
        await self._db.writer.run(lambda c: c.execute(sql, args))

    async def reset_statuses(self) -> None:
        await self._db.writer.run(
            lambda c: c.execute("UPDATE devices SET status = 'offline' WHERE status != 'offline'")
        )

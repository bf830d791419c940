"""SQLite implementation of :class:`hub.store.base.Store`."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from contracts.devices import Device, DeviceKind, DeviceStatus, Tenant
from contracts.telemetry import Value, from_epoch_ms, to_epoch_ms
from hub.errors import Conflict, InvalidInput, StoreUnavailable
from hub.store.base import (
    AggregateQuery,
    DevicePatchRecord,
    DeviceQuery,
    DeviceSecret,
    Message,
    ProvisioningTokenRecord,
    RangeQuery,
    StateKind,
    StateRecord,
    UserRecord,
    WriteResult,
)
from hub.store.outbox import StoredBatch
from hub.store.sqlite import outbox, telemetry, tokens
from hub.store.sqlite.connections import Checkpointer, ConnectionPool, transaction
from hub.store.sqlite.migrations import migrate
from hub.tasks import Background

# Interpolated into SQL (the S608 noqa below): a constant, never input.
_DEVICE_COLUMNS = "id, tenant, name, kind, labels, enabled, status, created, last_seen"
_SECRET_COLUMNS = "id, tenant, secret_hash, enabled, broker_hash"  # noqa: S105 - column names


def _secret(row: tuple[Any, ...]) -> DeviceSecret:
    return DeviceSecret(row[0], row[1], row[2], bool(row[3]), row[4])


def _device(row: tuple[Any, ...]) -> Device:
    device_id, tenant, name, kind, labels, enabled, status, created, last_seen = row
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
    )


class SqliteStore:
    """The embedded store: one file, WAL, a writer thread and a reader pool."""

    def __init__(self, path: Path, readers: int = 2) -> None:
        self._path = path
        self._readers_count = readers
        self._writer: ConnectionPool | None = None
        self._readers: ConnectionPool | None = None
        self._checkpointer: Checkpointer | None = None
        self._series = telemetry.SeriesCache()
        self._compactor = telemetry.Compactor()
        self._compacting: asyncio.Task[int] | None = None
        self._background = Background()

    @property
    def _w(self) -> ConnectionPool:
        if self._writer is None:
            raise StoreUnavailable("store is not open")
        return self._writer

    @property
    def _r(self) -> ConnectionPool:
        if self._readers is None:
            raise StoreUnavailable("store is not open")
        return self._readers

    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = ConnectionPool(self._path, 1, "sqlite-writer")
        self._readers = ConnectionPool(self._path, self._readers_count, "sqlite-reader", read_only=True)
        try:
            await self._w.run(migrate)
        except BaseException:
            await self.close()
            raise
        self._checkpointer = Checkpointer(self._path)
        await self._background.open()
        self._background.spawn(self._checkpointer.run(), name="sqlite-checkpoint")

    async def close(self) -> None:
        if self._compacting is not None:
            await asyncio.wait([self._compacting])  # a merge in progress finishes: it holds the writer thread
        await self._background.close()
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        for pool in (self._writer, self._readers):
            if pool is not None:
                pool.close()
        self._writer = self._readers = None

    async def ping(self) -> None:
        await self._r.run(lambda c: c.execute("SELECT 1").fetchone())

    async def _insert(self, sql: str, args: tuple[Any, ...], what: str) -> None:
        await self._create(lambda conn: conn.execute(sql, args), what, args[0])

    async def _create(self, write: Callable[[sqlite3.Connection], object], what: str, ident: str) -> None:
        """Run an insert; a taken id becomes Conflict, a dangling reference InvalidInput."""

        def run(conn: sqlite3.Connection) -> None:
            try:
                write(conn)
            except sqlite3.IntegrityError as exc:
                if "FOREIGN KEY" in str(exc):
                    raise InvalidInput(f"{what} {ident!r} refers to something that does not exist") from exc
                raise Conflict(f"{what} {ident!r} already exists") from exc

        await self._w.run(run)

    # tenants
    async def create_tenant(self, tenant: Tenant) -> None:
        await self._insert(
            "INSERT INTO tenants(id, name, created) VALUES (?, ?, ?)",
            (tenant.id, tenant.name, to_epoch_ms(tenant.created)),
            "tenant",
        )

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        row = await self._r.run(
            lambda c: c.execute("SELECT id, name, created FROM tenants WHERE id = ?", (tenant_id,)).fetchone()
        )
        return None if row is None else Tenant(id=row[0], name=row[1], created=from_epoch_ms(row[2]))

    async def list_tenants(self) -> list[Tenant]:
        rows = await self._r.run(lambda c: c.execute("SELECT id, name, created FROM tenants ORDER BY id").fetchall())
        return [Tenant(id=i, name=n, created=from_epoch_ms(c)) for i, n, c in rows]

    # devices
    async def create_device(self, device: Device, secret_hash: str, broker_hash: str | None = None) -> None:
        await self._insert(
            f"INSERT INTO devices({_DEVICE_COLUMNS}, secret_hash, broker_hash) VALUES ({', '.join('?' * 11)})",  # noqa: S608
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
                secret_hash,
                broker_hash,
            ),
            "device",
        )

    async def get_device(self, device_id: str) -> Device | None:
        row = await self._r.run(
            lambda c: c.execute(f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE id = ?", (device_id,)).fetchone()  # noqa: S608
        )
        return None if row is None else _device(row)

    async def list_devices(self, query: DeviceQuery) -> tuple[list[Device], int]:
        clauses: list[str] = []
        args: list[Any] = []
        if query.tenant is not None:
            clauses.append("tenant = ?")
            args.append(query.tenant)
        if query.status is not None:
            clauses.append("status = ?")
            args.append(query.status.value)
        if query.kind is not None:
            clauses.append("kind = ?")
            args.append(query.kind.value)
        if query.label is not None:
            clauses.append("json_extract(labels, '$.\"' || ? || '\"') = ?")
            args.extend(query.label)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""

        def run(conn: sqlite3.Connection) -> tuple[list[Device], int]:
            (total,) = conn.execute(f"SELECT count(*) FROM devices {where}", args).fetchone()  # noqa: S608
            rows = conn.execute(
                f"SELECT {_DEVICE_COLUMNS} FROM devices {where} ORDER BY id LIMIT ? OFFSET ?",  # noqa: S608
                [*args, query.limit, query.offset],
            ).fetchall()
            return [_device(r) for r in rows], int(total)

        return await self._r.run(run)

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

        def run(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
            if sets:
                conn.execute(f"UPDATE devices SET {', '.join(sets)} WHERE id = ?", [*args, device_id])  # noqa: S608
            row: tuple[Any, ...] | None = conn.execute(
                f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE id = ?",  # noqa: S608
                (device_id,),
            ).fetchone()
            return row

        row = await self._w.run(run)
        return None if row is None else _device(row)

    async def delete_device(self, device_id: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                deleted = conn.execute("DELETE FROM devices WHERE id = ?", (device_id,)).rowcount > 0
                telemetry.delete_device_data(conn, device_id)
                conn.execute("DELETE FROM state WHERE device_id = ?", (device_id,))
                conn.execute("DELETE FROM node_logs WHERE device_id = ?", (device_id,))
            self._series.forget_device(device_id)
            return deleted

        return await self._w.run(run)

    async def get_device_secret(self, device_id: str) -> DeviceSecret | None:
        row = await self._r.run(
            lambda c: c.execute(
                f"SELECT {_SECRET_COLUMNS} FROM devices WHERE id = ?",  # noqa: S608
                (device_id,),
            ).fetchone()
        )
        return None if row is None else _secret(row)

    async def set_device_secret(self, device_id: str, secret_hash: str, broker_hash: str | None = None) -> bool:
        return await self._w.run(
            lambda c: (
                c.execute(
                    "UPDATE devices SET secret_hash = ?, broker_hash = ? WHERE id = ?",
                    (secret_hash, broker_hash, device_id),
                ).rowcount
                > 0
            )
        )

    async def list_device_secrets(self) -> list[DeviceSecret]:
        rows = await self._r.run(
            lambda c: c.execute(f"SELECT {_SECRET_COLUMNS} FROM devices ORDER BY id").fetchall()  # noqa: S608
        )
        return [_secret(row) for row in rows]

    async def set_status(self, device_id: str, status: DeviceStatus, ts: int) -> None:
        if status is DeviceStatus.ONLINE:
            sql = "UPDATE devices SET status = ?, last_seen = max(coalesce(last_seen, 0), ?) WHERE id = ?"
            args: tuple[Any, ...] = (status.value, ts, device_id)
        else:
            sql, args = "UPDATE devices SET status = ? WHERE id = ?", (status.value, device_id)
        await self._w.run(lambda c: c.execute(sql, args))

    async def reset_statuses(self) -> None:
        await self._w.run(lambda c: c.execute("UPDATE devices SET status = 'offline' WHERE status != 'offline'"))

    # telemetry
    async def write_points(self, batch: Sequence[Message]) -> WriteResult:
        now = time.time_ns() // 1_000_000

        def write(conn: sqlite3.Connection) -> tuple[WriteResult, bool]:
            result = telemetry.write_points(conn, self._series, batch, self._compactor, now)
            return result, self._compactor.due()

        result, due = await self._w.run(write)
        if due and (self._compacting is None or self._compacting.done()):
            # After the write is acknowledged, on the same writer thread: ingest waits for it at most once.
            self._compacting = self._background.spawn(self._w.run(self._compactor.compact), name="sqlite-compact")
        return result

    async def query_range(self, query: RangeQuery) -> list[tuple[int, Value]]:
        return await self._r.run(lambda c: telemetry.query_range(c, query))

    async def query_aggregate(self, query: AggregateQuery) -> list[tuple[int, float]]:
        return await self._r.run(lambda c: telemetry.query_aggregate(c, query))

    async def latest(self, device_id: str) -> dict[str, tuple[int, Value]]:
        return await self._r.run(lambda c: telemetry.latest(c, device_id))

    # outbox
    async def head(self) -> int:
        return await self._r.run(outbox.head)

    async def since(self, position: int, limit: int) -> list[StoredBatch]:
        return await self._r.run(lambda c: outbox.since(c, position, limit))

    async def oldest_after(self, position: int) -> int | None:
        return await self._r.run(lambda c: outbox.oldest_after(c, position))

    async def get_cursor(self, name: str) -> int | None:
        return await self._r.run(lambda c: outbox.get_cursor(c, name))

    async def set_cursor(self, name: str, position: int) -> None:
        now = time.time_ns() // 1_000_000
        await self._w.run(lambda c: outbox.set_cursor(c, name, position, now))

    async def trim(self, older_than: int) -> int:
        return await self._w.run(lambda c: outbox.trim(c, older_than))

    # state
    async def put_state(self, device_id: str, kind: StateKind, doc: dict[str, Any], ts: int) -> StateRecord:
        body = orjson.dumps(doc).decode()

        def run(conn: sqlite3.Connection) -> StateRecord:
            row = conn.execute(
                "INSERT INTO state(device_id, kind, doc, version, updated) VALUES (?, ?, ?, 1, ?) "
                "ON CONFLICT(device_id, kind) DO UPDATE SET doc = excluded.doc, version = state.version + 1, "
                "updated = excluded.updated RETURNING version",
                (device_id, kind.value, body, ts),
            ).fetchone()
            return StateRecord(doc=doc, version=int(row[0]), updated=ts)

        return await self._w.run(run)

    async def get_state(self, device_id: str, kind: StateKind) -> StateRecord | None:
        row = await self._r.run(
            lambda c: c.execute(
                "SELECT doc, version, updated FROM state WHERE device_id = ? AND kind = ?", (device_id, kind.value)
            ).fetchone()
        )
        return None if row is None else StateRecord(orjson.loads(row[0]), row[1], row[2])

    async def list_states(self, kind: StateKind) -> list[tuple[str, StateRecord]]:
        rows = await self._r.run(
            lambda c: c.execute(
                "SELECT device_id, doc, version, updated FROM state WHERE kind = ? ORDER BY device_id", (kind.value,)
            ).fetchall()
        )
        return [(d, StateRecord(orjson.loads(doc), v, u)) for d, doc, v, u in rows]

    # users
    # node logs
    async def append_logs(self, device_id: str, lines: list[tuple[int, str, str, str]], keep: int) -> None:
        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.executemany(
                    "INSERT INTO node_logs(device_id, ts, level, logger, message) VALUES (?, ?, ?, ?, ?)",
                    [(device_id, *line) for line in lines],
                )
                conn.execute(
                    "DELETE FROM node_logs WHERE device_id = ? AND id <= (SELECT id FROM node_logs "
                    "WHERE device_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (device_id, device_id, keep),
                )

        await self._w.run(run)

    async def recent_logs(self, device_id: str, limit: int) -> list[tuple[int, str, str, str]]:
        rows = await self._r.run(
            lambda c: c.execute(
                "SELECT ts, level, logger, message FROM node_logs WHERE device_id = ? ORDER BY id DESC LIMIT ?",
                (device_id, limit),
            ).fetchall()
        )
        return [tuple(row) for row in reversed(rows)]

    # provisioning tokens
    async def create_token(self, token: ProvisioningTokenRecord) -> None:
        await self._create(lambda conn: tokens.insert(conn, token), "provisioning token", token.id)

    async def get_token(self, token_id: str) -> ProvisioningTokenRecord | None:
        return await self._r.run(lambda c: tokens.get(c, token_id))

    async def list_tokens(self, tenant: str | None) -> list[ProvisioningTokenRecord]:
        return await self._r.run(lambda c: tokens.list_for(c, tenant))

    async def use_token(self, token_id: str, now: int) -> bool:
        return await self._w.run(lambda c: tokens.use(c, token_id, now))

    async def delete_token(self, token_id: str) -> bool:
        return await self._w.run(lambda c: tokens.delete(c, token_id))

    async def create_user(self, user: UserRecord) -> None:
        await self._insert(
            "INSERT INTO users(username, password_hash, role, tenant, created) VALUES (?, ?, ?, ?, ?)",
            (user.username, user.password_hash, user.role, user.tenant, user.created),
            "user",
        )

    async def put_user(self, user: UserRecord) -> None:
        await self._w.run(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO users(username, password_hash, role, tenant, created) VALUES (?, ?, ?, ?, ?)",
                (user.username, user.password_hash, user.role, user.tenant, user.created),
            )
        )

    async def get_user(self, username: str) -> UserRecord | None:
        row = await self._r.run(
            lambda c: c.execute(
                "SELECT username, password_hash, role, tenant, created FROM users WHERE username = ?", (username,)
            ).fetchone()
        )
        return None if row is None else UserRecord(*row)

    async def list_users(self, tenant: str | None) -> list[UserRecord]:
        sql = "SELECT username, password_hash, role, tenant, created FROM users"
        args: tuple[Any, ...] = ()
        if tenant is not None:
            sql += " WHERE tenant = ?"
            args = (tenant,)
        rows = await self._r.run(lambda c: c.execute(sql + " ORDER BY username", args).fetchall())
        return [UserRecord(*r) for r in rows]

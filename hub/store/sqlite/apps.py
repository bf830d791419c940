"""App statements of the SQLite store: versions, deployments and their timelines
(:class:`hub.store.apps.AppStore`), schema version 10.

Tables and the index each query uses:

- ``app_versions``, primary key ``(tenant, name, version)``: one version (``get_version``), one app
  (``get_app``) and one tenant's apps (``list_apps``) are seeks on a prefix of it; semantic-version order is
  applied in Python (SQL cannot compare pre-releases).
- ``deployments``, primary key ``id``: ``get_deployment`` and every change. ``deployments_by_app``
  ``(tenant, app, version)``: whether a version or app is in use (and SQLite's check of the foreign key to
  ``app_versions``). ``deployments_by_tenant`` ``(tenant, created)``: a tenant's listing, in order.
  ``deployments_by_status`` ``(status, created)``: the platform's listings by status (scheduler, deployer).
- ``deployment_timeline``, ``seq`` (rowid) in append order; ``deployment_timeline_by_deployment``
  ``(deployment_id, seq)``: a deployment's timeline, oldest first.

Checks and the writes they guard (in-use before delete, version exists before a deployment, expected status
before a change) run in one ``BEGIN IMMEDIATE`` transaction: it holds SQLite's write lock, so no other hub
process on the same file can write in between.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from hub.errors import Conflict, NotFound
from hub.store.apps import (
    AppRecord,
    AppVersionRecord,
    DeploymentQuery,
    DeploymentRecord,
    DeploymentStatus,
    StaleStatus,
    Transition,
    newest_first,
)
from hub.store.sqlite.connections import transaction
from hub.store.sqlite.database import SqliteDatabase
from hub.store.sqlite.where import Where

_VERSION_COLUMNS = "tenant, name, version, digest, size, manifest, created, created_by"
_DEPLOYMENT_COLUMNS = "id, tenant, app, version, replicas, status, created, updated, placement, instances, schedule"


def _apps(rows: list[tuple[Any, ...]]) -> list[AppRecord]:
    grouped: dict[tuple[str, str], list[AppVersionRecord]] = {}
    for row in rows:
        record = AppVersionRecord(*row)
        grouped.setdefault((record.tenant, record.name), []).append(record)
    return [AppRecord(tenant, name, newest_first(versions)) for (tenant, name), versions in grouped.items()]


def _timelines(conn: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> dict[str, list[Transition]]:
    rows = conn.execute(
        "SELECT deployment_id, ts, status, reason FROM deployment_timeline "  # noqa: S608 - constant parts
        f"WHERE deployment_id IN (SELECT id FROM deployments {where}) ORDER BY deployment_id, seq",
        args,
    ).fetchall()
    timelines: dict[str, list[Transition]] = {}
    for deployment_id, ts, status, reason in rows:
        timelines.setdefault(deployment_id, []).append(Transition(ts, DeploymentStatus(status), reason))
    return timelines


def _select(conn: sqlite3.Connection, where: str, args: tuple[Any, ...], order: str = "") -> list[DeploymentRecord]:
    """Deployments matching ``where`` (a constant clause with ``?`` placeholders) with their timelines."""
    rows = conn.execute(f"SELECT {_DEPLOYMENT_COLUMNS} FROM deployments {where} {order}", args).fetchall()  # noqa: S608
    if not rows:
        return []
    timelines = _timelines(conn, where, args)
    return [
        DeploymentRecord(
            ident,
            tenant,
            app,
            version,
            replicas,
            DeploymentStatus(status),
            created,
            updated,
            placement,
            instances,
            schedule,
            tuple(timelines.get(ident, ())),
        )
        for ident, tenant, app, version, replicas, status, created, updated, placement, instances, schedule in rows
    ]


def _one(conn: sqlite3.Connection, deployment_id: str, tenant: str | None) -> DeploymentRecord | None:
    if tenant is None:
        found = _select(conn, "WHERE id = ?", (deployment_id,))
    else:
        found = _select(conn, "WHERE id = ? AND tenant = ?", (deployment_id, tenant))
    return found[0] if found else None


def _in_use(conn: sqlite3.Connection, where: str, args: tuple[Any, ...], what: str) -> None:
    row = conn.execute(f"SELECT id FROM deployments WHERE {where} LIMIT 1", args).fetchone()  # noqa: S608 - constant
    if row is not None:
        raise Conflict(f"{what} is used by deployment {row[0]!r}: delete the deployment first")


def delete_version(conn: sqlite3.Connection, tenant: str, name: str, version: str) -> bool:
    with transaction(conn):
        _in_use(conn, "tenant = ? AND app = ? AND version = ?", (tenant, name, version), f"app {name}@{version}")
        return (
            conn.execute(
                "DELETE FROM app_versions WHERE tenant = ? AND name = ? AND version = ?", (tenant, name, version)
            ).rowcount
            > 0
        )


def delete_app(conn: sqlite3.Connection, tenant: str, name: str) -> bool:
    with transaction(conn):
        _in_use(conn, "tenant = ? AND app = ?", (tenant, name), f"app {name!r}")
        return conn.execute("DELETE FROM app_versions WHERE tenant = ? AND name = ?", (tenant, name)).rowcount > 0


def create_deployment(conn: sqlite3.Connection, d: DeploymentRecord, reason: str) -> DeploymentRecord:
    with transaction(conn):
        exists = conn.execute(
            "SELECT 1 FROM app_versions WHERE tenant = ? AND name = ? AND version = ?", (d.tenant, d.app, d.version)
        ).fetchone()
        if exists is None:
            raise NotFound("app version", f"{d.app}@{d.version}")
        conn.execute(
            f"INSERT INTO deployments({_DEPLOYMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            (
                d.id,
                d.tenant,
                d.app,
                d.version,
                d.replicas,
                d.status.value,
                d.created,
                d.updated,
                d.placement,
                d.instances,
                d.schedule,
            ),
        )
        conn.execute(
            "INSERT INTO deployment_timeline(deployment_id, ts, status, reason) VALUES (?, ?, ?, ?)",
            (d.id, d.created, d.status.value, reason),
        )
        created = _one(conn, d.id, None)
    assert created is not None
    return created


def update_status(
    conn: sqlite3.Connection, deployment_id: str, change: Transition, expected: DeploymentStatus | None
) -> DeploymentRecord:
    ts, status, reason = change.ts, change.status, change.reason
    with transaction(conn):
        row = conn.execute("SELECT status FROM deployments WHERE id = ?", (deployment_id,)).fetchone()
        if row is None:
            raise NotFound("deployment", deployment_id)
        if expected is not None and row[0] != expected.value:
            raise StaleStatus(deployment_id, expected, DeploymentStatus(row[0]))
        conn.execute("UPDATE deployments SET status = ?, updated = ? WHERE id = ?", (status.value, ts, deployment_id))
        conn.execute(
            "INSERT INTO deployment_timeline(deployment_id, ts, status, reason) VALUES (?, ?, ?, ?)",
            (deployment_id, ts, status.value, reason),
        )
        updated = _one(conn, deployment_id, None)
    assert updated is not None
    return updated


def set_version(conn: sqlite3.Connection, deployment_id: str, version: str, ts: int) -> bool:
    with transaction(conn):
        row = conn.execute("SELECT tenant, app FROM deployments WHERE id = ?", (deployment_id,)).fetchone()
        if row is None:
            return False
        exists = conn.execute(
            "SELECT 1 FROM app_versions WHERE tenant = ? AND name = ? AND version = ?", (row[0], row[1], version)
        ).fetchone()
        if exists is None:
            raise NotFound("app version", f"{row[1]}@{version}")
        conn.execute("UPDATE deployments SET version = ?, updated = ? WHERE id = ?", (version, ts, deployment_id))
        return True


def delete_deployment(conn: sqlite3.Connection, deployment_id: str, tenant: str | None) -> bool:
    with transaction(conn):
        row = conn.execute("SELECT tenant FROM deployments WHERE id = ?", (deployment_id,)).fetchone()
        if row is None or (tenant is not None and row[0] != tenant):
            return False
        conn.execute("DELETE FROM deployment_timeline WHERE deployment_id = ?", (deployment_id,))
        conn.execute("DELETE FROM deployments WHERE id = ?", (deployment_id,))
        return True


class SqliteApps:
    """App versions in ``app_versions``; deployments in ``deployments`` with ``deployment_timeline``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def add_version(self, version: AppVersionRecord) -> None:
        v = version
        await self._db.create(
            lambda c: c.execute(
                f"INSERT INTO app_versions({_VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                (v.tenant, v.name, v.version, v.digest, v.size, v.manifest, v.created, v.created_by),
            ),
            "app version",
            f"{v.name}@{v.version}",
        )

    async def get_version(self, tenant: str, name: str, version: str) -> AppVersionRecord | None:
        row = await self._db.readers.run(
            lambda c: c.execute(
                f"SELECT {_VERSION_COLUMNS} FROM app_versions "  # noqa: S608 - constant
                "WHERE tenant = ? AND name = ? AND version = ?",
                (tenant, name, version),
            ).fetchone()
        )
        return None if row is None else AppVersionRecord(*row)

    async def get_app(self, tenant: str, name: str) -> AppRecord | None:
        rows = await self._db.readers.run(
            lambda c: c.execute(
                f"SELECT {_VERSION_COLUMNS} FROM app_versions WHERE tenant = ? AND name = ?",  # noqa: S608
                (tenant, name),
            ).fetchall()
        )
        apps = _apps(rows)
        return apps[0] if apps else None

    async def list_apps(self, tenant: str | None) -> list[AppRecord]:
        sql = f"SELECT {_VERSION_COLUMNS} FROM app_versions"  # noqa: S608 - constant
        args: tuple[Any, ...] = ()
        if tenant is not None:
            sql += " WHERE tenant = ?"
            args = (tenant,)
        rows = await self._db.readers.run(lambda c: c.execute(sql + " ORDER BY tenant, name", args).fetchall())
        return _apps(rows)

    async def delete_version(self, tenant: str, name: str, version: str) -> bool:
        return await self._db.writer.run(lambda c: delete_version(c, tenant, name, version))

    async def delete_app(self, tenant: str, name: str) -> bool:
        return await self._db.writer.run(lambda c: delete_app(c, tenant, name))

    async def create_deployment(self, deployment: DeploymentRecord, reason: str) -> DeploymentRecord:
        created: list[DeploymentRecord] = []
        await self._db.create(
            lambda c: created.append(create_deployment(c, deployment, reason)), "deployment", deployment.id
        )
        return created[0]

    async def get_deployment(self, deployment_id: str, tenant: str | None = None) -> DeploymentRecord | None:
        return await self._db.readers.run(lambda c: _one(c, deployment_id, tenant))

    async def list_deployments(self, query: DeploymentQuery) -> list[DeploymentRecord]:
        where = (
            Where()
            .equals("tenant", query.tenant)
            .equals("app", query.app)
            .one_of("status", [s.value for s in query.statuses])
        )
        args = tuple(where.args)
        return await self._db.readers.run(lambda c: _select(c, where.sql, args, "ORDER BY created, id"))

    async def update_status(
        self, deployment_id: str, change: Transition, *, expected: DeploymentStatus | None = None
    ) -> DeploymentRecord:
        return await self._db.writer.run(lambda c: update_status(c, deployment_id, change, expected))

    async def set_placement(self, deployment_id: str, placement: str, ts: int) -> bool:
        return await self._set(deployment_id, "placement", placement, ts)

    async def set_instances(self, deployment_id: str, instances: str, ts: int) -> bool:
        return await self._set(deployment_id, "instances", instances, ts)

    async def set_replicas(self, deployment_id: str, replicas: int, ts: int) -> bool:
        return await self._set(deployment_id, "replicas", replicas, ts)

    async def set_version(self, deployment_id: str, version: str, ts: int) -> bool:
        return await self._db.writer.run(lambda c: set_version(c, deployment_id, version, ts))

    async def _set(self, deployment_id: str, column: str, value: str | int, ts: int) -> bool:
        sql = f"UPDATE deployments SET {column} = ?, updated = ? WHERE id = ?"  # noqa: S608 - column is a constant
        return await self._db.writer.run(lambda c: c.execute(sql, (value, ts, deployment_id)).rowcount == 1)

    async def delete_deployment(self, deployment_id: str, tenant: str | None = None) -> bool:
        return await self._db.writer.run(lambda c: delete_deployment(c, deployment_id, tenant))

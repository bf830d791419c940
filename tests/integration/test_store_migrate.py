"""``fieldhub store migrate``: a real hub's SQLite store copied into a real FerretDB while the hub runs, then the
hub started on the copy; a migration killed with SIGKILL and run again; rollups a killed write left short; apps,
deployments and heartbeats with later changes and deletions; the refusals."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from cloud.cli.main import main
from cloud.runtime import HubRuntime
from contracts.devices import Device, DeviceKind, Tenant
from contracts.telemetry import Reading
from hub.backends import redacted
from hub.errors import ConfigError
from hub.store.apps import AppVersionRecord, DeploymentQuery, DeploymentRecord, DeploymentStatus, Transition
from hub.store.backend import Backend
from hub.store.events import WEBHOOKS_CURSOR, EventQuery, NewEvent
from hub.store.factory import open_store
from hub.store.logs import LogQuery, NewLine
from hub.store.migration.progress import MIGRATION
from hub.store.migration.run import Step, copy_store
from hub.store.mongo import rollups
from hub.store.mongo.database import MongoDatabase
from hub.store.mongo.events import EVENTS
from hub.store.mongo.sequence import SEQUENCES
from hub.store.registry import DeviceQuery
from hub.store.telemetry import AggFn, AggregateQuery, DeviceReadings, RangeQuery
from tests.helpers.ferretdb import FerretDB
from tests.helpers.hub import Api, running_hub, store_readings
from tests.helpers.mqtt import TestDevice
from tests.helpers.waiting import eventually
from tests.integration.test_rule_api import HOT

pytestmark = pytest.mark.timeout(240)
PASSWORD = "a-long-password-1"


def _mongo_url(ferretdb: FerretDB) -> str:
    return f"{ferretdb.url}migrate_{uuid.uuid4().hex[:12]}"


def _quiet(step: Step) -> None:
    del step


async def _snapshot(api: Api, device_id: str) -> dict[str, Any]:
    """What the API answers about everything the test stored (ids, times and values)."""

    async def get(path: str, **params: Any) -> Any:
        response = await api.http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    telemetry = f"/api/v1/devices/{device_id}/telemetry"
    return {
        "tenants": await get("/api/v1/tenants"),
        "device": {k: v for k, v in (await get(f"/api/v1/devices/{device_id}")).items() if k != "status"},
        # Signing in (to take this snapshot) changes users' last sign-in and adds audit records and events.
        "users": [{**u, "last_sign_in": None} for u in (await get("/api/v1/users"))["items"]],
        "keys": await get("/api/v1/api-keys"),
        "points": [await get(telemetry, key=key) for key in ("temp", "mode", "door")],
        "avg": await get(telemetry, key="temp", agg="avg", interval="60s"),
        "latest": await get(f"/api/v1/devices/{device_id}/latest"),
        "state": (await get(f"/api/v1/devices/{device_id}/state"))["desired"],
        "profiles": await get("/api/v1/profiles"),
        "rules": await get("/api/v1/rules"),
        "channels": await get("/api/v1/channels"),
        "alarms": await get("/api/v1/alarms"),
        "events": (await get("/api/v1/events", limit=500))["items"],
        "audit": (await get("/api/v1/audit", limit=500))["items"],
    }


async def test_a_hub_moved_to_mongodb_serves_everything_and_its_devices_users_and_keys_sign_in(
    tmp_path: Path, ferretdb: FerretDB
) -> None:
    target = _mongo_url(ferretdb)
    source = f"sqlite:///{tmp_path / 'data' / 'fieldhub.db'}"
    async with running_hub(tmp_path / "data") as hub:
        api = await Api.login(hub.url)
        await api.created("/api/v1/tenants", {"id": "t-move", "name": "Moved"})
        await api.created("/api/v1/tenants", {"id": "t-gone", "name": "Gone"})
        await api.created("/api/v1/users", {"username": "kim", "password": PASSWORD, "role": "admin"})
        key = (await api.created("/api/v1/api-keys", {"name": "ci"}))["key"]
        revoked = await api.created("/api/v1/api-keys", {"name": "old"})
        await api.create_device("doomed")
        secret = (await api.create_device("mover", labels={"room": "cellar"}))["credentials"]["password"]
        await api.created("/api/v1/profiles", {"id": "thermo", "name": "Thermometer", "keys": {"temp": {"unit": "°C"}}})
        await api.created(
            "/api/v1/channels", {"name": "ops", "target": {"kind": "webhook", "url": "http://127.0.0.1:9/hook"}}
        )
        await api.created("/api/v1/rules", {**HOT, "selector": {"room": "cellar"}, "for_s": 0})
        readings = [{"ts": 1_700_000_000_000 + i * 20_000, "values": {"temp": 20.0 + i}} for i in range(12)]
        await store_readings(hub, api, "mover", secret, readings, "temp")
        mixed = [{"ts": 1_700_000_500_000 + i, "values": {"mode": f"m{i}", "door": i % 2 == 0}} for i in range(3)]
        await store_readings(hub, api, "mover", secret, mixed, "mode")
        desired = await api.http.put("/api/v1/devices/mover/state/desired", json={"rate": 5})
        assert desired.status_code == 200, desired.text

        async def alarm_raised() -> bool:  # the last reading (31) is above the rule's 30
            return bool((await api.http.get("/api/v1/alarms")).json()["items"])

        await eventually(alarm_raised, what="the alarm raised")
        final = await copy_store(source, target, batch=5, dry_run=False, force=False, report=_quiet)
        assert not final, "a copy made while the hub runs called final"
        # A hub on the copy before the final run would number events the final run still copies: refused.
        with pytest.raises(ConfigError, match="last run was not final"):
            async with running_hub(tmp_path / "early", store=target):
                pass
        await _publish(hub, api, secret, {"ts": 1_700_001_000_000, "values": {"temp": 1.5}}, stored=13)
        # Deleted after the first run: gone from the copy after the second.
        assert (await api.http.delete(f"/api/v1/api-keys/{revoked['id']}")).status_code == 204
        assert (await api.http.delete("/api/v1/devices/doomed")).status_code == 204
        assert (await api.http.delete("/api/v1/tenants/t-gone")).status_code == 204
        before = await _snapshot(api, "mover")
        await api.close()
    steps: list[Step] = []
    assert await copy_store(source, target, batch=5, dry_run=False, force=False, report=steps.append)  # the rest
    assert {s.concern: s.copied for s in steps if s.done}["telemetry"] == 1  # only the point stored meanwhile

    async with running_hub(tmp_path / "moved", store=target) as hub:
        api = await Api.login(hub.url)
        try:
            moved = await _snapshot(api, "mover")
            for kind in ("events", "audit"):  # the new hub's own come first (newest first)
                moved[kind] = moved[kind][len(moved[kind]) - len(before[kind]) :]
            assert moved == before
            kim = await Api.login(hub.url, "kim", PASSWORD)  # the user signs in with their password
            await kim.close()
            async with httpx.AsyncClient(base_url=hub.url) as anyone:
                me = await anyone.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
                assert me.status_code == 200 and me.json()["username"] == "admin"
                old = await anyone.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {revoked['key']}"})
                assert old.status_code == 401
            assert (await api.http.get("/api/v1/devices/doomed")).status_code == 404
            device = await asyncio.to_thread(TestDevice(hub.mqtt_port, "mover", secret).connect)  # its old secret
            await asyncio.to_thread(device.close)
            await _publish(hub, api, secret, {"ts": 1_700_002_000_000, "values": {"temp": 40}}, stored=14)
            # Events and audit records the new hub writes are numbered after the copied ones.
            after = await _snapshot(api, "mover")
            for kind in ("events", "audit"):
                assert min(r["id"] for r in after[kind][: -len(before[kind])]) > before[kind][0]["id"]
        finally:
            await api.close()
    # The one-open guard came along: the rule's open alarm on the device keeps a second one out.
    store = open_store(target)
    await store.database.open()
    try:
        (alarm,) = await store.alarms.open_alarms()
        assert await store.alarms.open_alarm(alarm.model_copy(update={"id": "a-second"})) is None
    finally:
        await store.database.close()


async def _publish(hub: HubRuntime, api: Api, secret: str, reading: dict[str, Any], *, stored: int) -> None:
    """Publish ``reading`` as the device ``mover``; wait until its ``temp`` series holds ``stored`` points."""
    device = await asyncio.to_thread(TestDevice(hub.mqtt_port, "mover", secret).connect)
    try:
        await asyncio.to_thread(device.publish, "devices/mover/telemetry", json.dumps([reading]).encode())
    finally:
        await asyncio.to_thread(device.close)

    async def arrived() -> bool:
        response = await api.http.get("/api/v1/devices/mover/telemetry", params={"key": "temp"})
        return len(response.json()["points"]) == stored

    await eventually(arrived, what="the reading stored")


async def _fill(source: Backend, devices: int, points: int) -> None:
    """A store of ``devices`` devices with ``points`` readings each (in messages of 100), and an event each."""
    await source.database.open()
    try:
        now = datetime.now(UTC)
        await source.registry.create_tenant(Tenant(id="t-bulk", name="Bulk", created=now))
        for d in range(devices):
            device = Device(id=f"bulk-{d}", tenant="t-bulk", name="b", created=now)
            await source.registry.create_device(device, "hash")
            for at in range(0, points, 100):
                readings = [Reading("v", 1_700_000_000_000 + i * 1000, float(i), i) for i in range(at, at + 100)]
                await source.telemetry.write_points([DeviceReadings(device.id, "t-bulk", 0, readings)], outbox=False)
            # A clockless device's burst, stamped by the hub in one millisecond (told apart by arrival numbers).
            burst = [Reading("burst", 1_700_000_000_000, float(i), -1 - i) for i in range(5)]
            await source.telemetry.write_points([DeviceReadings(device.id, "t-bulk", 0, burst)], outbox=False)
            await source.events.append([NewEvent(1_700_000_000_000 + d, "t-bulk", "node.back", f"made {d}")])
            lines = [
                NewLine("t-bulk", device.id, 1_700_000_000_000 + i, 20, "app", f"line {i} of {d}") for i in range(3)
            ]
            await source.logs.append(lines)
        await source.events.set_cursor(WEBHOOKS_CURSOR, devices - 1)  # webhooks delivered all but the newest event
    finally:
        await source.database.close()


async def _lines(stream: asyncio.StreamReader) -> AsyncIterator[str]:
    while line := await stream.readline():
        yield line.decode()


async def test_a_migration_killed_mid_copy_and_run_again_copies_everything_once(
    tmp_path: Path, ferretdb: FerretDB
) -> None:
    source_url, target_url = f"sqlite:///{tmp_path / 'bulk.db'}", _mongo_url(ferretdb)
    await _fill(open_store(source_url), devices=4, points=1000)
    command = [sys.executable, "-m", "cloud.cli.main", "store", "migrate", "--from", source_url, "--to", target_url]
    first = await asyncio.create_subprocess_exec(*command, "--batch", "7", stdout=subprocess.PIPE)
    assert first.stdout is not None
    async for line in _lines(first.stdout):
        if line.startswith("telemetry") and int(line.split()[1]) > 700:
            os.kill(first.pid, signal.SIGKILL)  # mid-copy: some series copied, one part-way, some not begun
            break
    assert await first.wait() == -signal.SIGKILL
    with pytest.raises(ConfigError, match="last run was not final"):  # cut short: no hub may start on it yet
        await open_store(target_url).database.open()
    second = await asyncio.create_subprocess_exec(*command, "--batch", "7", stdout=subprocess.PIPE)
    out, _ = await second.communicate()
    assert second.returncode == 0, out
    (copied,) = [
        line.split()[1] for line in out.decode().splitlines() if line.startswith("telemetry") and "done" in line
    ]
    assert 0 < int(copied) < 4020  # resumed: the points copied before the kill are not read again

    source, target = open_store(source_url), open_store(target_url)
    await source.database.open()
    await target.database.open()
    try:
        for d in range(4):
            burst = RangeQuery(f"bulk-{d}", "burst", limit=50)
            assert len(await target.telemetry.identified_points(burst)) == 5
            assert await target.telemetry.identified_points(burst) == await source.telemetry.identified_points(burst)
            query = RangeQuery(f"bulk-{d}", "v", limit=5000)
            assert await target.telemetry.identified_points(query) == await source.telemetry.identified_points(query)
            for fn in (AggFn.COUNT, AggFn.SUM):  # the rollups, rebuilt from the points, hold each point once
                hourly = AggregateQuery(query, fn, 3_600_000)
                assert await target.telemetry.query_aggregate(hourly) == await source.telemetry.query_aggregate(hourly)
        assert [e.id for e in await target.events.query(EventQuery(after=0, limit=50))] == [1, 2, 3, 4]
        assert await target.events.get_cursor(WEBHOOKS_CURSOR) == 3  # the new hub's webhooks resume there
        logs = LogQuery(after=0, limit=50)
        assert len(await target.logs.search(logs)) == 12
        assert await target.logs.search(logs) == await source.logs.search(logs)
        assert await target.logs.search(LogQuery(text="line 2")) == await source.logs.search(LogQuery(text="line 2"))
        assert len((await target.registry.list_devices(DeviceQuery()))[0]) == 4
        # The sequence hint knows the copied ids: a new event is numbered after them.
        db = target.database
        hint = await db.collection(SEQUENCES).find_one({"_id": EVENTS})  # type: ignore[attr-defined]
        assert hint is not None and hint["newest"] == 4
        assert [e.id for e in await target.events.append([NewEvent(1, "t-bulk", "node.back", "new")])] == [5]
    finally:
        await source.database.close()
        await target.database.close()


def test_refusals(tmp_path: Path, ferretdb: FerretDB, capsys: pytest.CaptureFixture[str]) -> None:
    hub_file = tmp_path / "hub.db"
    asyncio.run(_fill(open_store(f"sqlite:///{hub_file}"), devices=1, points=100))
    source, target = f"sqlite:///{hub_file}", _mongo_url(ferretdb)

    def refused(*args: str) -> str:
        assert main(["store", "migrate", *args]) == 2
        return capsys.readouterr().err

    assert "same store" in refused("--from", source, "--to", source)
    assert "mongodb://" in refused("--from", source, "--to", "postgres://u:pw@h/db")
    assert "pw" not in refused("--from", "mongodb://u:pw@h/db", "--to", target)
    invalid = refused("--from", source, "--to", "mongodb://u:pw@h:notaport/db")
    assert "no valid MongoDB URL" in invalid and "pw" not in invalid
    assert "no file" in refused("--from", f"sqlite:///{tmp_path / 'none.db'}", "--to", target)
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 9999")
    assert "newer than this Fieldhub" in refused("--from", f"sqlite:///{newer}", "--to", target)

    assert main(["store", "migrate", "--from", source, "--to", target, "--dry-run"]) == 0
    counted = capsys.readouterr().out
    assert "telemetry                   105 to copy" in counted  # 100 points and a burst of 5
    assert main(["store", "migrate", "--from", source, "--to", target]) == 0  # the dry run wrote nothing to refuse
    other = tmp_path / "other.db"
    asyncio.run(_fill(open_store(f"sqlite:///{other}"), devices=1, points=100))
    assert "is a copy of" in refused("--from", f"sqlite:///{other}", "--to", target)
    assert main(["store", "migrate", "--from", f"sqlite:///{other}", "--to", target, "--force"]) == 0
    assert redacted("mongodb://u:secret@h:27017/db") == "mongodb://u:***@h:27017/db"

    newer_target = _mongo_url(ferretdb)
    client: MongoClient[dict[str, Any]] = MongoClient(newer_target)
    with client:  # as a newer Fieldhub would leave it
        client.get_default_database()["_schema"].insert_one({"_id": "version", "version": 9999})
    assert "newer than this Fieldhub" in refused("--from", source, "--to", newer_target)


async def test_rollups_left_short_by_a_killed_write_are_rebuilt_on_the_next_run(
    tmp_path: Path, ferretdb: FerretDB
) -> None:
    """A run killed between storing a batch's points and adding them to the rollups: the next run finds the points
    stored (so writing them again adds nothing) and rebuilds those rollups from them."""
    source_url, target_url = f"sqlite:///{tmp_path / 'short.db'}", _mongo_url(ferretdb)
    await _fill(open_store(source_url), devices=1, points=300)
    await copy_store(source_url, target_url, batch=100, dry_run=False, force=False, report=_quiet)
    target = open_store(target_url)
    await target.database.open()
    try:
        db = target.database
        assert isinstance(db, MongoDatabase)
        # As a kill would leave it: the last batch's points stored, neither their rollups nor the progress past them.
        await rollups.delete_device(db, "bulk-0")
        await db.collection(MIGRATION).update_one(
            {"_id": "telemetry:bulk-0/v"}, {"$set": {"after": [1_700_000_199_000, 199]}}
        )
    finally:
        await target.database.close()
    await copy_store(source_url, target_url, batch=100, dry_run=False, force=False, report=_quiet)

    source = open_store(source_url)
    await source.database.open()
    await target.database.open()
    try:
        for fn, interval in ((AggFn.COUNT, 60_000), (AggFn.SUM, 3_600_000), (AggFn.MAX, 60_000)):
            query = AggregateQuery(RangeQuery("bulk-0", "v", limit=1000), fn, interval)
            assert await target.telemetry.query_aggregate(query) == await source.telemetry.query_aggregate(query)
    finally:
        await source.database.close()
        await target.database.close()


async def test_app_versions_deployments_and_heartbeats_arrive_with_their_later_changes_and_deletions(
    tmp_path: Path, ferretdb: FerretDB
) -> None:
    source_url, target_url = f"sqlite:///{tmp_path / 'apps.db'}", _mongo_url(ferretdb)
    source, target = open_store(source_url), open_store(target_url)
    await _fill(source, devices=0, points=0)
    await source.database.open()
    await target.database.open()
    try:
        for version in ("1.0.0", "1.1.0"):
            await source.apps.add_version(AppVersionRecord("t-bulk", "web", version, "sha256:ab", 10, "{}", 1, "me"))
        made = DeploymentRecord("d-1", "t-bulk", "web", "1.0.0", 2, DeploymentStatus.PENDING, 1, 1)
        await source.apps.create_deployment(made, "created")
        await source.apps.update_status("d-1", Transition(2, DeploymentStatus.RUNNING, "placed"))
        await source.apps.set_placement("d-1", '{"n-1": 2}', 3)
        node = Device(id="n-1", tenant="t-bulk", name="gateway", kind=DeviceKind.GATEWAY, created=datetime.now(UTC))
        await source.registry.create_device(node, "hash")
        await source.nodes.put_heartbeat("n-1", {"cpu": 0.5}, 1_700_000_000_000)

        async def same() -> None:
            await copy_store(source_url, target_url, batch=10, dry_run=False, force=False, report=_quiet)
            assert await target.apps.list_apps(None) == await source.apps.list_apps(None)
            assert await target.apps.list_deployments(DeploymentQuery()) == await source.apps.list_deployments(
                DeploymentQuery()
            )

        await same()
        assert await target.nodes.get_heartbeat("n-1") == await source.nodes.get_heartbeat("n-1") is not None
        await source.apps.set_version("d-1", "1.1.0", 4)  # a rollout after the first run
        await source.apps.update_status("d-1", Transition(5, DeploymentStatus.STOPPED, "stopped by me"))
        await source.apps.set_replicas("d-1", 3, 6)
        await same()
        assert await source.apps.delete_version("t-bulk", "web", "1.0.0")  # deleted after the second run
        assert await source.apps.delete_deployment("d-1")
        await same()
        assert await target.apps.list_deployments(DeploymentQuery()) == []
    finally:
        await source.database.close()
        await target.database.close()


async def test_rollups_of_points_retention_removed_are_copied(tmp_path: Path, ferretdb: FerretDB) -> None:
    source_url, target_url = f"sqlite:///{tmp_path / 'kept.db'}", _mongo_url(ferretdb)
    source = open_store(source_url)
    await _fill(source, devices=0, points=0)
    hour = 1_699_999_200_000  # a whole hour
    await source.database.open()
    try:
        device = Device(id="old-0", tenant="t-bulk", name="old", created=datetime.now(UTC))
        await source.registry.create_device(device, "hash")
        for at in range(30, 210, 10):  # a point a minute from half past, 3 hours long, a chunk per 10 minutes
            readings = [Reading("v", hour + i * 60_000, float(i % 7), i) for i in range(at, at + 10)]
            await source.telemetry.write_points([DeviceReadings("old-0", "t-bulk", 0, readings)], outbox=False)
        # Retention removes the chunks of the first 70 minutes: one whole hour's raw points, part of the next's.
        assert await source.telemetry.drop_raw("t-bulk", hour + 100 * 60_000) == 70
    finally:
        await source.database.close()
    await copy_store(source_url, target_url, batch=25, dry_run=False, force=False, report=_quiet)

    target = open_store(target_url)
    await source.database.open()
    await target.database.open()
    try:
        for fn in (AggFn.COUNT, AggFn.SUM, AggFn.MIN, AggFn.MAX):
            for interval in (60_000, 3_600_000):
                query = AggregateQuery(RangeQuery("old-0", "v", limit=1000), fn, interval)
                expected = await source.telemetry.query_aggregate(query)
                assert expected[0][0] == hour + (30 * 60_000 if interval == 60_000 else 0)  # from the removed times
                assert await target.telemetry.query_aggregate(query) == expected
    finally:
        await source.database.close()
        await target.database.close()

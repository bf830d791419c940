"""Several ``fieldhub serve --role api`` processes on one store and an external Mosquitto.

One leads (holds the lease ``leader``); killed with SIGKILL, another takes over within the lease's life and a
renewal, and the schedules due around the failover start exactly once. A clean stop hands the lead over at
once. Live streams (SSE) opened on one process get what another process stored.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from hub.store.backend import Backend
from hub.store.factory import open_store
from tests.helpers.ferretdb import FerretDB
from tests.helpers.hub import Api
from tests.helpers.mosquitto import SERVICE_PASSWORD, SERVICE_USER, ExternalMosquitto
from tests.helpers.process import HubProcess, cli_env
from tests.helpers.waiting import eventually
from tests.integration.test_deployments_api import DEPLOYMENTS, push_bound_app
from tests.integration.test_events_api import frames

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

#: The documented bound: a dead leader's lease runs out (10 s) and a candidate tries within a renewal (3 s).
FAILOVER_S = 15.0
SECRET_KEY = "a-signing-key-every-api-process-shares-0123456789"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture(params=["sqlite", "mongodb"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store every process of the test shares: a SQLite file, or a database of the session's FerretDB."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'fieldhub.db'}"
    server: FerretDB = request.getfixturevalue("ferretdb")
    return f"{server.url}leader_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Backend]:
    """The shared store, opened by the test too: it sees who holds the lease."""
    backend = open_store(store_url)
    await backend.database.open()
    yield backend
    await backend.database.close()


def start_api(data: Path, store: str, broker: ExternalMosquitto, replica_id: str) -> HubProcess:
    """``fieldhub serve --role api`` on ``store``; ``data`` (its blob store: app packages) shared with the others."""
    command = [sys.executable, "-m", "cloud.cli.main", "serve", "--role", "api", "--replica-id", replica_id]
    command += ["--broker", f"mqtt://127.0.0.1:{broker.port}", "--store", store]
    command += ["--data-dir", str(data), "--http-port", "0"]
    env = cli_env(
        FIELDHUB_MOSQUITTO__USERNAME=SERVICE_USER,
        FIELDHUB_MOSQUITTO__PASSWORD=SERVICE_PASSWORD,
        FIELDHUB_SECRET_KEY=SECRET_KEY,
    )
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    process = HubProcess(proc, "", broker.port)
    process.follow()
    process.url = process.wait_for_line(f"API process {replica_id} is up: ", 60).split()[5]
    return process


@contextmanager
def api_processes(data: Path, store: str, broker: ExternalMosquitto, *ids: str) -> Iterator[dict[str, HubProcess]]:
    started: dict[str, HubProcess] = {}
    try:
        for replica_id in ids:
            started[replica_id] = start_api(data, store, broker, replica_id)
        yield started
    finally:
        for process in started.values():
            if process.proc.poll() is None:
                process.stop()


async def leader(store: Backend) -> str | None:
    """The replica id of the process holding the lease now (holders are named ``<replica id>-<random>``)."""
    lease = await store.leases.holder("leader", now_ms())
    return None if lease is None else lease.holder.rsplit("-", 1)[0]


async def led_by(store: Backend, replica_id: str) -> bool:
    return await leader(store) == replica_id


async def says_it_leads(process: HubProcess) -> bool:
    return any(" INFO hub.leader: " in line and " leads: " in line for line in list(process.lines))


@asynccontextmanager
async def logged_in(url: str) -> AsyncIterator[Api]:
    api = await Api.login(url)
    try:
        yield api
    finally:
        await api.close()


async def scheduled_at(api: Api, start: int) -> str:
    response = await api.http.post(
        DEPLOYMENTS, json={"app": "climate", "schedule": {"kind": "at", "start": rfc3339(start)}}
    )
    assert response.status_code == 201, response.text
    ident: str = response.json()["id"]
    return ident


async def started(api: Api, ident: str) -> dict[str, Any] | None:
    shown: dict[str, Any] = (await api.http.get(f"{DEPLOYMENTS}/{ident}")).json()
    return shown if shown["status"] != "scheduled" else None


async def starts_of(api: Api, ident: str) -> list[dict[str, Any]]:
    """The ``schedule.started`` events of deployment ``ident`` stored so far (events are stored a moment later)."""
    found = (await api.http.get("/api/v1/events", params={"kind": "schedule.started"})).json()["items"]
    return [event for event in found if event["deployment"] == ident]


async def test_a_killed_leader_is_followed_within_the_bound_and_no_schedule_runs_twice_or_never(
    tmp_path: Path, broker: ExternalMosquitto, store_url: str, store: Backend
) -> None:
    data = tmp_path / "data"
    with api_processes(data, store_url, broker, "api-a") as processes:
        await eventually(lambda: led_by(store, "api-a"), what="the first process leading")
        processes["api-b"] = await asyncio.to_thread(start_api, data, store_url, broker, "api-b")
        async with logged_in(processes["api-a"].url) as api_a, logged_in(processes["api-b"].url) as api_b:
            await push_bound_app(api_a, tmp_path, "climate", "temperature", "greenhouse-b")
            assert await leader(store) == "api-a", "the second process took the lead from a live leader"

            # Made through the follower: due after the takeover (the dead leader knew of it) ...
            after = await scheduled_at(api_b, now_ms() + 25_000)
            processes["api-a"].stop(signal.SIGKILL)
            killed, killed_ms = time.monotonic(), now_ms()
            # ... and due while nobody leads.
            during = await scheduled_at(api_b, now_ms() + 2_000)
            await eventually(lambda: led_by(store, "api-b"), within=30, what="the survivor leading")
            failover = time.monotonic() - killed
            print(f"failover after SIGKILL of the leader: {failover:.2f} s")
            assert failover < FAILOVER_S, f"the survivor took {failover:.1f} s to lead"
            await eventually(lambda: says_it_leads(processes["api-b"]), what="the survivor's log naming it leader")

            for ident in (during, after):
                shown = await eventually(partial(started, api_b, ident), within=40, what=f"{ident} started")
                assert shown is not None
                timeline = shown["timeline"]
                assert [entry["status"] for entry in timeline] == ["scheduled", "pending"], f"{ident}: {timeline}"
                assert timeline[1]["ts"] > killed_ms, f"{ident} started by the dead leader: {timeline}"
                runs = await eventually(partial(starts_of, api_b, ident), what=f"the start event of {ident}")
                assert len(runs) == 1, runs
            started_late = (await api_b.http.get(f"{DEPLOYMENTS}/{during}")).json()["timeline"][1]["reason"]
            assert " s late " in started_late, started_late  # due while nobody led: started once someone did


async def test_a_stopped_leader_hands_over_at_once_and_streams_serve_from_any_process(
    tmp_path: Path, broker: ExternalMosquitto, store_url: str, store: Backend
) -> None:
    data = tmp_path / "data"
    with api_processes(data, store_url, broker, "api-a", "api-b") as processes:
        await eventually(lambda: led_by(store, "api-a"), what="the first process leading")
        async with logged_in(processes["api-a"].url) as api_a, logged_in(processes["api-b"].url) as api_b:
            secret = (await api_a.create_device("probe-1"))["credentials"]["password"]
            await push_bound_app(api_a, tmp_path, "climate", "temperature", "greenhouse-b")
            # Streams opened on the follower; what they carry is stored by the leader.
            async with (
                api_b.http.stream("GET", "/api/v1/events/stream", params={"kind": "schedule."}) as events,
                api_b.http.stream("GET", "/api/v1/devices/probe-1/live") as live,
            ):
                assert events.status_code == live.status_code == 200
                event_frames, live_lines = frames(events), live.aiter_lines()
                assert await anext(event_frames) == {"connected": True}
                assert await anext(live_lines) == ": connected"
                ident = await scheduled_at(api_a, now_ms() + 1_000)
                async with asyncio.timeout(20):
                    frame = await anext(event_frames)
                assert (frame["data"]["kind"], frame["data"]["deployment"]) == ("schedule.started", ident)

                async with httpx.AsyncClient(base_url=processes["api-a"].url) as device:
                    reading = {"values": {"temp": 21.5}}
                    ingested = await device.post("/api/v1/ingest/telemetry", json=reading, auth=("probe-1", secret))
                assert ingested.status_code == 202, ingested.text
                async with asyncio.timeout(20):
                    line = await anext(line async for line in live_lines if line.startswith("data: "))
                body = orjson.loads(line[6:])
                assert [(r["key"], r["value"]) for r in body["readings"]] == [("temp", 21.5)]

        processes["api-a"].stop(signal.SIGTERM)
        stopped = time.monotonic()
        await eventually(lambda: led_by(store, "api-b"), within=10, what="the other process leading")
        # Released on the way out: taken at the next try (a renewal period), not after the lease's life.
        assert time.monotonic() - stopped < 5.0

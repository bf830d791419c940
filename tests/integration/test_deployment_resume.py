"""A leader stopped within a deployment step: the next leader finishes the step from the store, exactly once.

Each test cuts a step short at the await right after its status change, or after its instances are written: the
old leader's store or publisher never answers there and its task is cancelled, as when a leader is killed or steps
down. A new leader, with components of its own on the same store, then runs what a term of office starts
(cloud/duties.py: the deployments' sweeps with their take-over, and the scheduler). The retained desired sets stand
in for the broker. On SQLite and on FerretDB.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import orjson
import pytest

from contracts.apps import NodeDeployments
from contracts.devices import Device, DeviceKind, DeviceStatus, Tenant
from contracts.events import EventKind
from contracts.schedules import WindowSchedule
from contracts.topics import deployments_topic
from hub.apps.catalog import AppCatalog
from hub.blobs.files import FileBlobStore
from hub.broker.base import DeviceIdentity, Publisher
from hub.deploy import deployments as deployments_module
from hub.deploy import desired, placing, relocation, sweeps
from hub.deploy.deployments import Deployments
from hub.deploy.instances import InstanceReports
from hub.deploy.schedules import Scheduler
from hub.deploy.sweeps import STALLED_MS
from hub.events.service import Events
from hub.metrics import Metrics
from hub.registry import DeviceRegistry
from hub.security.device_auth import DeviceAuthenticator
from hub.store.apps import AppStore, AppVersionRecord, DeploymentRecord, DeploymentStatus
from hub.store.backend import Backend
from hub.store.events import EventQuery
from hub.store.factory import open_store
from tests.contract.support import BACKENDS
from tests.helpers.waiting import eventually, soon
from tests.integration.test_deployments_api import beat, report

pytestmark = pytest.mark.timeout(60)

TENANT = "acme"
NODES = ("gw-a", "gw-b")
S = DeploymentStatus
MANIFEST = {
    "app": {"name": "climate", "version": "0.1.0"},
    "runtime": {"command": ["python", "main.py"]},
    "sensors": [{"bind": "probe", "type": "temperature", "location": "greenhouse-b"}],
}


class Clock:
    """Hub time: the real time, moved on by the test where it waits for hub time to pass."""

    def __init__(self) -> None:
        self.ahead = 0

    def __call__(self) -> int:
        return time.time_ns() // 1_000_000 + self.ahead


class Broker:
    """The desired set each node would find retained on its deployments topic."""

    def __init__(self) -> None:
        self.retained: dict[str, NodeDeployments] = {}

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        assert retain and qos == 1
        self.retained[topic] = NodeDeployments.model_validate_json(payload)

    def instances(self, node: str) -> list[tuple[str, int]]:
        found = self.retained.get(deployments_topic(node))
        return [] if found is None else [(i.deployment, i.replica) for i in found.instances]


class Hang:
    """``inner`` with ``method`` never answering (the process stops there); ``reached`` is set when it is called."""

    def __init__(self, inner: object, method: str) -> None:
        self._inner = inner
        self._method = method
        self.reached = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return self._hang if name == self._method else getattr(self._inner, name)

    async def _hang(self, *args: object, **kwargs: object) -> None:
        self.reached.set()
        await asyncio.Event().wait()


class NoSessions:
    """The registry's session control: placement closes no session."""

    async def disconnect_device(self, device_id: str) -> int:
        return 0


@dataclass(frozen=True, slots=True)
class Leader:
    """One hub process's deployer, scheduler and events, as the leader runs them."""

    deployments: Deployments
    scheduler: Scheduler
    events: Events


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    hub_time = Clock()
    for module in (deployments_module, desired, placing, relocation, sweeps):  # the deployer's modules
        monkeypatch.setattr(module, "now_ms", hub_time)
    return hub_time


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> AsyncIterator[Backend]:
    """The shared store with a tenant, its two gateways (online, each hosting the sensor) and the app."""
    backend = open_store(BACKENDS[request.param](request, tmp_path))
    await backend.database.open()
    created = datetime.now(UTC)
    await backend.registry.create_tenant(Tenant(id=TENANT, name="Acme", created=created))
    for node in NODES:
        gateway = Device(id=node, name=node, tenant=TENANT, kind=DeviceKind.GATEWAY, created=created)
        await backend.registry.create_device(gateway, "unused")
        await backend.registry.set_status(node, DeviceStatus.ONLINE, clock())
    await beats(backend, clock)
    version = AppVersionRecord(TENANT, "climate", "0.1.0", "ab" * 32, 1, json.dumps(MANIFEST), clock(), "admin")
    await backend.apps.add_version(version)
    yield backend
    await backend.database.close()


async def beats(store: Backend, clock: Clock) -> None:
    """Each gateway's heartbeat, now in hub time (placement takes only nodes heard recently)."""
    for node in NODES:
        await store.nodes.put_heartbeat(node, orjson.loads(beat("temperature", "greenhouse-b")), clock())


@asynccontextmanager
async def leader(
    store: Backend, publisher: object, clock: Clock, *, apps: object | None = None
) -> AsyncIterator[Leader]:
    """A leader's components on ``store`` (its apps store replaced by ``apps``, if given); leaving stores its
    events."""
    app_store = cast(AppStore, apps or store.apps)
    authenticator = DeviceAuthenticator(store.registry, Metrics())
    registry = DeviceRegistry(store.registry, authenticator, NoSessions(), profiles=store.profiles)
    catalog = AppCatalog(app_store, FileBlobStore(Path("/nonexistent")))  # placement reads no package
    try:
        async with Events(store.events) as events:
            deployments = Deployments(catalog, registry, store.nodes, cast(Publisher, publisher), events=events)
            yield Leader(deployments, Scheduler(deployments, app_store, clock, refresh_s=0.05, events=events), events)
    finally:
        authenticator.close()


@asynccontextmanager
async def term(new: Leader) -> AsyncIterator[None]:
    """What a term of office runs of the deployer's duties (cloud/duties.py), until left."""
    async with asyncio.TaskGroup() as tasks:
        running = [
            tasks.create_task(new.deployments.run_sweeps(0.05), name="pending-deployments"),
            tasks.create_task(new.scheduler.run(), name="deployment-schedules"),
        ]
        try:
            yield
        finally:
            for task in running:
                task.cancel()


async def cut_short(step: Awaitable[object], hung: Hang) -> None:
    """Run ``step`` until it reaches the hanging call, then stop it there."""
    task = asyncio.ensure_future(step)
    await asyncio.wait_for(hung.reached.wait(), 10)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def get(store: Backend, ident: str) -> DeploymentRecord:
    found = await store.apps.get_deployment(ident)
    assert found is not None
    return found


def told(broker: Broker, ident: str) -> bool:
    """Each node's desired set holds exactly one instance, of ``ident``."""
    return all(broker.instances(node) == [(ident, 0)] for node in NODES)


def placed(deployment: DeploymentRecord) -> list[tuple[str, int]]:
    return sorted((e["node"], e["replica"]) for e in json.loads(deployment.instances))


async def report_running(store: Backend, events: Events, ident: str) -> None:
    """Each node says its instance runs (as an agent does on ``devices/{id}/apps``)."""
    reports = InstanceReports(store.apps, Metrics(), events)
    for node in NODES:
        await reports.reported(DeviceIdentity(node, TENANT), report(ident, "running"))


async def events_of(store: Backend, ident: str, kind: EventKind) -> int:
    return len(await store.events.query(EventQuery(tenant=TENANT, deployment=ident, kind=kind.value)))


def window(clock: Clock, end_ms: int) -> WindowSchedule:
    start, end = clock(), clock() + end_ms
    return WindowSchedule(
        kind="window", start=datetime.fromtimestamp(start / 1000, UTC), end=datetime.fromtimestamp(end / 1000, UTC)
    )


@pytest.mark.parametrize("cut", ["status", "instances"])
async def test_a_scheduled_start_cut_short_is_finished_once_by_the_next_leader(
    store: Backend, clock: Clock, cut: str
) -> None:
    broker = Broker()
    # Cut after the status change (the placement is never written) or after the instances (never published).
    hung = Hang(store.apps, "set_placement") if cut == "status" else Hang(broker, "publish")
    async with leader(
        store, hung if cut == "instances" else broker, clock, apps=hung if cut == "status" else None
    ) as old:
        created = await old.scheduler.create(TENANT, "climate", None, 2, window(clock, 3_600_000))
        ident = created.id
        await cut_short(old.scheduler.tick(), hung)
    left = await get(store, ident)
    assert left.status is S.DEPLOYING
    assert placed(left) == ([] if cut == "status" else [("gw-a", 0), ("gw-b", 0)])
    assert broker.instances("gw-a") == broker.instances("gw-b") == []

    async with leader(store, broker, clock) as new:
        if cut == "status":
            # Within STALLED_MS the step may still be under way in a live process: the sweep leaves it alone.
            await new.deployments.sweep()
            assert placed(await get(store, ident)) == []
        clock.ahead += STALLED_MS
        await beats(store, clock)
        async with term(new):
            await soon(lambda: told(broker, ident), what="both nodes told of their instance")
            await report_running(store, new.events, ident)
            running = await eventually(lambda: _status(store, ident, S.RUNNING), what="the deployment running")
        # The term's jobs once more (the loops have stopped): nothing is placed twice.
        await new.deployments.sweep()
        await new.scheduler.tick()
        again = await get(store, ident)
        assert again == running
        assert placed(again) == [("gw-a", 0), ("gw-b", 0)]
        assert told(broker, ident)
    statuses = [t.status for t in again.timeline]
    assert statuses.count(S.SCHEDULED) == 1 and statuses[:2] == [S.SCHEDULED, S.DEPLOYING]
    if cut == "status":
        assert statuses == [S.SCHEDULED, S.DEPLOYING, S.DEPLOYING, S.RUNNING]
        assert again.timeline[2].reason.startswith("placement resumed (the hub process placing it stopped): ")
        # The stopped scheduler never recorded the start: the new leader did, once.
        assert await events_of(store, ident, EventKind.SCHEDULE_STARTED) == 1
    else:
        assert statuses == [S.SCHEDULED, S.DEPLOYING, S.RUNNING]
        assert await events_of(store, ident, EventKind.SCHEDULE_STARTED) <= 1


async def test_an_end_cut_short_takes_the_instances_off_the_nodes_at_the_next_term(
    store: Backend, clock: Clock
) -> None:
    broker = Broker()
    async with leader(store, broker, clock) as first:
        ident = (await first.scheduler.create(TENANT, "climate", None, 2, window(clock, 2_000))).id
        await first.scheduler.tick()
        await report_running(store, first.events, ident)
        assert (await get(store, ident)).status is S.RUNNING
    assert told(broker, ident)

    clock.ahead += 2_000  # the window's end
    hung = Hang(broker, "publish")
    async with leader(store, hung, clock) as old:
        await cut_short(old.scheduler.tick(), hung)
    left = await get(store, ident)
    assert left.status is S.COMPLETED and placed(left) == [("gw-a", 0), ("gw-b", 0)]
    assert broker.instances("gw-a") == [(ident, 0)], "the nodes were not told"

    async with leader(store, broker, clock) as new, term(new):
        await soon(lambda: broker.instances("gw-a") == broker.instances("gw-b") == [], what="the nodes told")
        await eventually(lambda: _instances(store, ident, "[]"), what="the instances dropped")
    done = await get(store, ident)
    assert [t.status for t in done.timeline] == [S.SCHEDULED, S.DEPLOYING, S.RUNNING, S.COMPLETED]
    assert await events_of(store, ident, EventKind.SCHEDULE_ENDED) == 1


async def test_a_start_cut_short_whose_window_ended_meanwhile_is_ended_not_placed(store: Backend, clock: Clock) -> None:
    hung = Hang(store.apps, "set_placement")
    async with leader(store, Broker(), clock, apps=hung) as old:
        ident = (await old.scheduler.create(TENANT, "climate", None, 2, window(clock, 2_000))).id
        await cut_short(old.scheduler.tick(), hung)
    clock.ahead += STALLED_MS  # past the window's end too
    broker = Broker()
    async with leader(store, broker, clock) as new:
        async with term(new):
            await eventually(lambda: _status(store, ident, S.COMPLETED), what="the run ended")
        await new.deployments.sweep()
    done = await get(store, ident)
    assert placed(done) == []
    assert broker.instances("gw-a") == broker.instances("gw-b") == []
    assert [t.status for t in done.timeline] == [S.SCHEDULED, S.DEPLOYING, S.COMPLETED]


async def test_a_pending_deployments_placement_cut_short_is_finished_once(store: Backend, clock: Clock) -> None:
    broker = Broker()
    for node in NODES:  # nowhere to go yet
        await store.registry.set_status(node, DeviceStatus.OFFLINE, clock())
    async with leader(store, broker, clock) as first:
        created = await first.deployments.create(TENANT, "climate", replicas=2)
    assert created.status is S.PENDING
    for node in NODES:
        await store.registry.set_status(node, DeviceStatus.ONLINE, clock())

    hung = Hang(store.apps, "set_placement")
    async with leader(store, broker, clock, apps=hung) as old:
        await cut_short(old.deployments.sweep(), hung)
    left = await get(store, created.id)
    assert left.status is S.DEPLOYING and placed(left) == []

    clock.ahead += STALLED_MS
    await beats(store, clock)
    async with leader(store, broker, clock) as new:
        async with term(new):
            await soon(lambda: told(broker, created.id), what="both nodes told of their instance")
        await new.deployments.sweep()
    done = await get(store, created.id)
    assert placed(done) == [("gw-a", 0), ("gw-b", 0)]
    assert [t.status for t in done.timeline] == [S.PENDING, S.DEPLOYING, S.DEPLOYING]


async def _status(store: Backend, ident: str, wanted: DeploymentStatus) -> DeploymentRecord | None:
    found = await get(store, ident)
    return found if found.status is wanted else None


async def _instances(store: Backend, ident: str, wanted: str) -> DeploymentRecord | None:
    found = await get(store, ident)
    return found if json.loads(found.instances) == json.loads(wanted) else None

"""Instance reports are applied by the leader only: every API process receives each one, one process writes.

A deployment's instances are a read-modify-write shared with the deployer, which runs on the leader; a report
applied by another process could interleave with it. A process that does not lead drops the report.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contracts.apps import InstanceReport, NodeAppsReport
from hub.broker.base import DeviceIdentity
from hub.deploy.instances import InstanceReports
from hub.events.service import Events
from hub.metrics import Metrics
from hub.store.apps import DeploymentStatus, Transition
from hub.store.backend import Backend
from hub.store.factory import open_store
from tests.contract.test_apps_contract import deployment, version

pytestmark = pytest.mark.timeout(30)
T0 = 1_795_000_000_000
NODE = DeviceIdentity("node-1", "ta")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Backend]:
    backend = open_store(f"sqlite:///{tmp_path / 'fieldhub.db'}")
    await backend.database.open()
    yield backend
    await backend.database.close()


async def placed_on_node(store: Backend) -> str:
    """A deploying deployment with one instance placed on ``node-1``, still starting."""
    await store.apps.add_version(version("climate", "1.0.0"))
    dep = await store.apps.create_deployment(
        deployment("climate", "1.0.0", instances=json.dumps([{"node": NODE.device_id, "status": "starting"}])),
        "created",
    )
    await store.apps.update_status(dep.id, Transition(T0 + 1, DeploymentStatus.DEPLOYING, "placed"))
    return dep.id


def running(deployment_id: str) -> bytes:
    instance = InstanceReport(deployment=deployment_id, app="climate", version="1.0.0", status="running", since=T0 + 1)
    return NodeAppsReport(version=1, ts=T0 + 1, instances=[instance]).model_dump_json().encode()


async def instance_status(store: Backend, deployment_id: str) -> str:
    found = await store.apps.get_deployment(deployment_id)
    assert found is not None
    return str(json.loads(found.instances)[0]["status"])


@pytest.mark.parametrize(("leading", "expected"), [(False, "starting"), (True, "running")])
async def test_only_the_leader_applies_a_report(store: Backend, leading: bool, expected: str) -> None:
    dep = await placed_on_node(store)
    async with Events(store.events) as events:
        reports = InstanceReports(store.apps, Metrics(), events, leading=lambda: leading)
        await reports.reported(NODE, running(dep))
    assert await instance_status(store, dep) == expected

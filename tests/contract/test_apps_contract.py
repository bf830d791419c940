"""The apps store's contract (app versions, deployments, their timelines): every backend passes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.errors import Conflict, NotFound
from hub.store.apps import (
    AppVersionRecord,
    DeploymentQuery,
    DeploymentRecord,
    DeploymentStatus,
    StaleStatus,
    Transition,
    new_deployment_id,
)
from hub.store.backend import Backend
from hub.store.factory import open_store
from tests.contract.support import BACKENDS, T0

pytestmark = pytest.mark.timeout(30)

PENDING, DEPLOYING, RUNNING = DeploymentStatus.PENDING, DeploymentStatus.DEPLOYING, DeploymentStatus.RUNNING


def version(name: str, ver: str, tenant: str = "ta", created: int = T0) -> AppVersionRecord:
    manifest = json.dumps({"app": {"name": name, "version": ver}, "runtime": {"command": ["python", "main.py"]}})
    return AppVersionRecord(tenant, name, ver, f"sha256-{name}-{ver}", 1234, manifest, created, "alice")


def deployment(app: str, ver: str, tenant: str = "ta", created: int = T0, **extra: object) -> DeploymentRecord:
    return DeploymentRecord(new_deployment_id(), tenant, app, ver, 1, PENDING, created, created, **extra)  # type: ignore[arg-type]


async def test_versions_are_added_read_and_immutable(backend: Backend) -> None:
    apps = backend.apps
    first = version("climate", "1.0.0")
    await apps.add_version(first)
    assert await apps.get_version("ta", "climate", "1.0.0") == first
    with pytest.raises(Conflict):
        await apps.add_version(version("climate", "1.0.0", created=T0 + 5))
    assert await apps.get_version("ta", "climate", "1.0.0") == first  # the pushed version is unchanged
    assert await apps.get_version("ta", "climate", "2.0.0") is None
    assert await apps.get_version("tb", "climate", "1.0.0") is None
    # Another tenant may use the same name and version.
    await apps.add_version(version("climate", "1.0.0", tenant="tb"))
    assert await apps.get_app("ta", "ghost") is None


async def test_versions_are_listed_highest_first_by_semver_precedence(backend: Backend) -> None:
    pushed = ["1.0.0-alpha", "1.0.0", "1.0.0-alpha.1", "0.9.0", "1.0.0-beta.11", "1.0.0-beta.2", "1.10.0", "1.2.0"]
    for i, ver in enumerate(pushed):
        await backend.apps.add_version(version("climate", ver, created=T0 + i))
    await backend.apps.add_version(version("door", "0.1.0"))
    app = await backend.apps.get_app("ta", "climate")
    assert app is not None
    expected = ["1.10.0", "1.2.0", "1.0.0", "1.0.0-beta.11", "1.0.0-beta.2", "1.0.0-alpha.1", "1.0.0-alpha", "0.9.0"]
    assert [v.version for v in app.versions] == expected
    listed = await backend.apps.list_apps("ta")
    assert [(a.name, [v.version for v in a.versions]) for a in listed] == [("climate", expected), ("door", ["0.1.0"])]


async def test_apps_are_listed_per_tenant(backend: Backend) -> None:
    await backend.apps.add_version(version("b-app", "1.0.0"))
    await backend.apps.add_version(version("a-app", "1.0.0"))
    await backend.apps.add_version(version("other", "1.0.0", tenant="tb"))
    assert [a.name for a in await backend.apps.list_apps("ta")] == ["a-app", "b-app"]
    assert [(a.tenant, a.name) for a in await backend.apps.list_apps("tb")] == [("tb", "other")]
    assert [(a.tenant, a.name) for a in await backend.apps.list_apps(None)] == [
        ("ta", "a-app"),
        ("ta", "b-app"),
        ("tb", "other"),
    ]
    assert await backend.apps.list_apps("nobody") == []


async def test_a_version_in_use_is_kept_until_its_deployment_is_deleted(backend: Backend) -> None:
    apps = backend.apps
    for ver in ("1.0.0", "1.1.0"):
        await apps.add_version(version("climate", ver))
    dep = await apps.create_deployment(deployment("climate", "1.0.0"), "created")
    await apps.update_status(dep.id, Transition(T0 + 1, DeploymentStatus.STOPPED, "stopped by alice"))
    with pytest.raises(Conflict, match=dep.id):
        await apps.delete_version("ta", "climate", "1.0.0")  # stopped is not deleted
    with pytest.raises(Conflict):
        await apps.delete_app("ta", "climate")
    assert await apps.get_version("ta", "climate", "1.0.0") is not None
    assert await apps.delete_version("ta", "climate", "1.1.0") is True  # the unused one may go
    assert await apps.delete_version("ta", "climate", "1.1.0") is False
    assert await apps.delete_deployment(dep.id) is True
    assert await apps.delete_version("ta", "climate", "1.0.0") is True
    assert await apps.get_app("ta", "climate") is None
    await apps.add_version(version("door", "1.0.0"))
    await apps.add_version(version("door", "2.0.0"))
    assert await apps.delete_app("ta", "door") is True
    assert await apps.delete_app("ta", "door") is False
    assert await apps.list_apps("ta") == []


async def test_a_deployment_needs_its_version_and_a_free_id(backend: Backend) -> None:
    with pytest.raises(NotFound):
        await backend.apps.create_deployment(deployment("ghost", "1.0.0"), "created")
    await backend.apps.add_version(version("climate", "1.0.0", tenant="tb"))
    with pytest.raises(NotFound):  # the version of another tenant does not count
        await backend.apps.create_deployment(deployment("climate", "1.0.0", tenant="ta"), "created")
    dep = deployment("climate", "1.0.0", tenant="tb")
    await backend.apps.create_deployment(dep, "created")
    with pytest.raises(Conflict):
        await backend.apps.create_deployment(dep, "again")
    assert len(await backend.apps.list_deployments(DeploymentQuery())) == 1


async def test_a_deployment_lives_through_its_timeline(backend: Backend) -> None:
    apps = backend.apps
    await apps.add_version(version("climate", "1.0.0"))
    schedule = json.dumps({"kind": "window", "start": "2026-11-20T10:00:00Z", "end": "2026-11-20T12:00:00Z"})
    dep = deployment("climate", "1.0.0", schedule=schedule)
    assert dep.id.startswith("dep-") and len(dep.id) == 16
    created = await apps.create_deployment(dep, "no node with a temperature sensor at greenhouse-b")
    assert created.timeline == (Transition(T0, PENDING, "no node with a temperature sensor at greenhouse-b"),)
    assert (created.status, created.schedule, created.placement, created.instances) == (PENDING, schedule, "{}", "[]")
    placement = json.dumps({"candidates": [{"node": "gw-b", "accepted": True, "rank": 1}], "reason": "placed"})
    assert await apps.set_placement(dep.id, placement, T0 + 10) is True
    await apps.update_status(dep.id, Transition(T0 + 10, DEPLOYING, "placed on gw-b"), expected=PENDING)
    instances = json.dumps([{"node": "gw-b", "status": "running"}])
    assert await apps.set_instances(dep.id, instances, T0 + 20) is True
    running = await apps.update_status(dep.id, Transition(T0 + 20, RUNNING, "1 of 1 running"), expected=DEPLOYING)
    assert running.status == RUNNING and running.updated == T0 + 20
    assert running.timeline == (
        Transition(T0, PENDING, "no node with a temperature sensor at greenhouse-b"),
        Transition(T0 + 10, DEPLOYING, "placed on gw-b"),
        Transition(T0 + 20, RUNNING, "1 of 1 running"),
    )
    got = await apps.get_deployment(dep.id)
    assert got == running
    assert (got.placement, got.instances, got.created) == (placement, instances, T0)
    assert await apps.delete_deployment(dep.id) is True
    assert await apps.get_deployment(dep.id) is None
    assert await apps.delete_deployment(dep.id) is False
    assert await apps.set_placement(dep.id, "{}", T0 + 30) is False
    assert await apps.set_instances(dep.id, "[]", T0 + 30) is False
    with pytest.raises(NotFound):
        await apps.update_status(dep.id, Transition(T0 + 30, RUNNING, "gone"))


async def test_a_deployment_moves_to_another_version_of_its_app(backend: Backend) -> None:
    apps = backend.apps
    for ver in ("1.0.0", "1.1.0"):
        await apps.add_version(version("climate", ver))
    await apps.add_version(version("door", "2.0.0"))
    await apps.add_version(version("climate", "3.0.0", tenant="tb"))
    dep = await apps.create_deployment(deployment("climate", "1.0.0"), "created")
    assert await apps.set_version(dep.id, "1.1.0", T0 + 10) is True
    moved = await apps.get_deployment(dep.id)
    assert moved is not None and (moved.version, moved.updated) == ("1.1.0", T0 + 10)
    assert moved.timeline == dep.timeline  # a version change is no status change
    with pytest.raises(NotFound):
        await apps.set_version(dep.id, "9.9.9", T0 + 20)
    with pytest.raises(NotFound):  # another app's version
        await apps.set_version(dep.id, "2.0.0", T0 + 20)
    with pytest.raises(NotFound):  # another tenant's version
        await apps.set_version(dep.id, "3.0.0", T0 + 20)
    assert (await apps.get_deployment(dep.id)) == moved
    # The version in use is now 1.1.0: 1.0.0 may go, 1.1.0 may not.
    assert await apps.delete_version("ta", "climate", "1.0.0") is True
    with pytest.raises(Conflict):
        await apps.delete_version("ta", "climate", "1.1.0")
    assert await apps.set_version("dep-000000000000", "1.1.0", T0 + 30) is False


async def test_a_deployment_is_scaled_without_a_status_change(backend: Backend) -> None:
    apps = backend.apps
    await apps.add_version(version("climate", "1.0.0"))
    dep = await apps.create_deployment(deployment("climate", "1.0.0"), "created")
    assert dep.replicas == 1
    assert await apps.set_replicas(dep.id, 3, T0 + 10) is True
    scaled = await apps.get_deployment(dep.id)
    assert scaled is not None and (scaled.replicas, scaled.updated) == (3, T0 + 10)
    assert (scaled.status, scaled.timeline) == (dep.status, dep.timeline)  # scaling is no status change
    assert [d.replicas for d in await apps.list_deployments(DeploymentQuery(tenant="ta"))] == [3]
    assert await apps.set_replicas("dep-000000000000", 2, T0 + 20) is False


async def test_a_status_change_on_a_stale_read_is_refused(backend: Backend) -> None:
    apps = backend.apps
    await apps.add_version(version("climate", "1.0.0"))
    dep = await apps.create_deployment(deployment("climate", "1.0.0"), "created")
    # Two hub processes read it as pending; the first to write wins.
    await apps.update_status(dep.id, Transition(T0 + 1, DEPLOYING, "placed on gw-a"), expected=PENDING)
    with pytest.raises(StaleStatus) as refused:
        await apps.update_status(dep.id, Transition(T0 + 2, DEPLOYING, "placed on gw-b"), expected=PENDING)
    assert (refused.value.expected, refused.value.current) == (PENDING, DEPLOYING)
    assert isinstance(refused.value, Conflict)
    stored = await apps.get_deployment(dep.id)
    assert stored is not None and [t.reason for t in stored.timeline] == ["created", "placed on gw-a"]
    # Without an expected status the change is unconditional, and a same-status change still leaves a trace.
    again = await apps.update_status(dep.id, Transition(T0 + 3, DEPLOYING, "retrying on gw-a"))
    assert [t.reason for t in again.timeline] == ["created", "placed on gw-a", "retrying on gw-a"]


async def test_deployments_are_filtered_by_tenant_app_and_status(backend: Backend) -> None:
    apps = backend.apps
    await apps.add_version(version("climate", "1.0.0"))
    await apps.add_version(version("door", "1.0.0"))
    await apps.add_version(version("climate", "1.0.0", tenant="tb"))
    a1 = await apps.create_deployment(deployment("climate", "1.0.0", created=T0), "created")
    a2 = await apps.create_deployment(deployment("door", "1.0.0", created=T0 + 1), "created")
    b1 = await apps.create_deployment(deployment("climate", "1.0.0", tenant="tb", created=T0 + 2), "created")
    a2 = await apps.update_status(a2.id, Transition(T0 + 3, RUNNING, "up"))

    async def ids(**query: object) -> list[str]:
        return [d.id for d in await apps.list_deployments(DeploymentQuery(**query))]  # type: ignore[arg-type]

    assert await ids() == [a1.id, a2.id, b1.id]
    assert await ids(tenant="ta") == [a1.id, a2.id]
    assert await ids(tenant="tb") == [b1.id]
    assert await ids(tenant="ta", app="climate") == [a1.id]
    assert await ids(statuses=(PENDING,)) == [a1.id, b1.id]
    assert await ids(tenant="ta", statuses=(RUNNING, DeploymentStatus.FAILED)) == [a2.id]
    listed = await apps.list_deployments(DeploymentQuery(tenant="ta"))
    assert listed[1] == a2 and len(listed[1].timeline) == 2  # listings carry timelines too
    # A tenant never reaches another tenant's deployment.
    assert await apps.get_deployment(b1.id, tenant="ta") is None
    assert await apps.get_deployment(b1.id, tenant="tb") == b1
    assert await apps.delete_deployment(b1.id, tenant="ta") is False
    assert await apps.get_deployment(b1.id) is not None


@pytest.mark.parametrize("name", sorted(BACKENDS))
async def test_two_connections_to_one_store_see_each_others_writes(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Two hub processes on one store: a push, a deployment and a stale status change cross between them."""
    url = BACKENDS[name](request, tmp_path)
    first, second = open_store(url), open_store(url)
    await first.database.open()
    await second.database.open()
    try:
        await first.apps.add_version(version("climate", "1.0.0"))
        with pytest.raises(Conflict):
            await second.apps.add_version(version("climate", "1.0.0"))
        dep = await second.apps.create_deployment(deployment("climate", "1.0.0"), "created")
        seen = await first.apps.get_deployment(dep.id)
        assert seen is not None and seen.status == PENDING
        await second.apps.update_status(dep.id, Transition(T0 + 1, DEPLOYING, "placed by second"), expected=PENDING)
        with pytest.raises(StaleStatus):
            await first.apps.update_status(dep.id, Transition(T0 + 2, DEPLOYING, "placed by first"), expected=PENDING)
        with pytest.raises(Conflict):
            await first.apps.delete_version("ta", "climate", "1.0.0")
        assert await first.apps.delete_deployment(dep.id) is True
        assert await second.apps.get_deployment(dep.id) is None
        assert await second.apps.delete_app("ta", "climate") is True
    finally:
        await second.database.close()
        await first.database.close()

"""Node health from heartbeat ages, and what the monitor does when a node running instances dies or returns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.deploy import failover
from hub.deploy.failover import NodeMonitor
from hub.deploy.health import HealthThresholds, NodeHealth
from hub.store.backend import Backend
from hub.store.factory import open_store

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(
    ("age_s", "health"),
    [(0, "healthy"), (6.9, "healthy"), (7, "suspect"), (9.9, "suspect"), (10, "dead"), (3600, "dead")],
)
def test_a_nodes_health_is_the_age_of_its_latest_heartbeat(age_s: float, health: str) -> None:
    assert HealthThresholds().of(1_000_000, 1_000_000 + int(age_s * 1000)) == health
    assert HealthThresholds().of(None, 1_000_000) is NodeHealth.DEAD


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Backend]:
    backend = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    await backend.database.open()
    yield backend
    await backend.database.close()


async def test_the_monitor_moves_a_dead_nodes_instances_once_and_sees_it_come_back(
    store: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [10_000_000]
    monkeypatch.setattr(failover, "now_ms", lambda: clock[0])
    changes: list[tuple[str, str, str]] = []
    moved: list[tuple[str, str, str]] = []
    placed = {"pi-a": "default", "pi-b": "default"}

    async def on_change(node: str, tenant: str, before: NodeHealth, now: NodeHealth) -> None:
        changes.append((node, before.value, now.value))

    async def move_off(node: str, tenant: str, why: str) -> None:
        moved.append((node, tenant, why))
        placed.pop(node)  # its instances went elsewhere

    async def placed_now() -> dict[str, str]:
        return dict(placed)

    monitor = NodeMonitor(placed_now, store.nodes, move_off, HealthThresholds(7, 10), on_change)
    for node in ("pi-a", "pi-b"):
        await store.nodes.put_heartbeat(node, {"ts": 1}, clock[0])
    await monitor.check()
    assert changes == [] and moved == []

    clock[0] += 8_000  # both suspect
    await monitor.check()
    assert changes == [("pi-a", "healthy", "suspect"), ("pi-b", "healthy", "suspect")]
    await store.nodes.put_heartbeat("pi-b", {"ts": 2}, clock[0])  # pi-b beats again

    clock[0] += 3_000  # pi-a dead 11 s after its last heartbeat; pi-b healthy
    await monitor.check()
    assert changes[2:] == [("pi-a", "suspect", "dead"), ("pi-b", "suspect", "healthy")]
    assert moved == [("pi-a", "default", "node pi-a is dead (no heartbeat for 11 s)")]
    clock[0] += 1_000
    await monitor.check()
    assert len(moved) == 1, "a dead node's instances move once"

    # pi-a runs nothing now, but the monitor still follows it and sees it come back.
    await store.nodes.put_heartbeat("pi-a", {"ts": 3}, clock[0])
    await monitor.check()
    assert changes[-1] == ("pi-a", "dead", "healthy")

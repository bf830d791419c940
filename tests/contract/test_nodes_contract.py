"""The node store's contract (heartbeats, log lines): every backend passes it."""

from __future__ import annotations

import pytest

from hub.store.backend import Backend
from tests.contract.support import T0, with_devices

pytestmark = pytest.mark.timeout(30)


async def test_node_logs_keep_the_newest_lines(backend: Backend) -> None:
    await with_devices(backend, "d1", "d2")
    await backend.nodes.append_logs("d1", [(T0 + i, "INFO", "agent", f"line {i}") for i in range(5)], keep=3)
    await backend.nodes.append_logs("d2", [(T0, "ERROR", "agent", "other")], keep=3)
    assert [m for _, _, _, m in await backend.nodes.recent_logs("d1", 10)] == ["line 2", "line 3", "line 4"]
    assert await backend.nodes.recent_logs("d1", 1) == [(T0 + 4, "INFO", "agent", "line 4")]
    await backend.registry.delete_device("d1")
    assert await backend.nodes.recent_logs("d1", 10) == []
    assert len(await backend.nodes.recent_logs("d2", 10)) == 1


async def test_a_node_keeps_its_latest_heartbeat_only(backend: Backend) -> None:
    await with_devices(backend, "gw1", "gw2")
    assert await backend.nodes.get_heartbeat("gw1") is None
    await backend.nodes.put_heartbeat("gw1", {"cpu": 10, "spool": {"depth": 0}}, T0)
    await backend.nodes.put_heartbeat("gw1", {"cpu": 20, "spool": {"depth": 5}}, T0 + 1000)
    await backend.nodes.put_heartbeat("gw2", {"cpu": 1}, T0)
    latest = await backend.nodes.get_heartbeat("gw1")
    assert latest is not None and (latest.doc, latest.received) == ({"cpu": 20, "spool": {"depth": 5}}, T0 + 1000)
    await backend.registry.delete_device("gw1")
    assert await backend.nodes.get_heartbeat("gw1") is None
    assert await backend.nodes.get_heartbeat("gw2") is not None

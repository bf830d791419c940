"""The node store's contract (heartbeats): every backend passes it (log lines: test_logs_contract.py)."""

from __future__ import annotations

import pytest

from hub.store.backend import Backend
from tests.contract.support import T0, with_devices

pytestmark = pytest.mark.timeout(30)


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

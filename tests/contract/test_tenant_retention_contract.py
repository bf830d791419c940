"""Each tenant's retention of raw telemetry and log lines: the registry keeps it, the log store finds a tenant's
old lines (and everyone else's); every backend passes it."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.devices import Tenant
from hub.store.backend import Backend
from hub.store.logs import HUB_TENANT, LEVELS, NewLine
from tests.contract.support import CREATED, T0

pytestmark = pytest.mark.timeout(30)


async def test_a_tenants_retention_is_stored_changed_and_cleared(backend: Backend) -> None:
    registry = backend.registry
    await registry.create_tenant(Tenant(id="t1", name="T1", created=CREATED, telemetry_days=30))
    await registry.create_tenant(Tenant(id="t2", name="T2", created=CREATED))
    assert await registry.get_tenant("t1") == Tenant(id="t1", name="T1", created=CREATED, telemetry_days=30)
    changed = await registry.set_tenant_retention("t2", 7, 400)
    assert changed == Tenant(id="t2", name="T2", created=CREATED, telemetry_days=7, logs_days=400)
    assert [(t.id, t.telemetry_days, t.logs_days) for t in await registry.list_tenants()] == [
        ("t1", 30, None),
        ("t2", 7, 400),
    ]
    # Renaming keeps the retention; clearing it returns to the hub's default.
    renamed = await registry.rename_tenant("t2", "Two")
    assert renamed is not None and (renamed.telemetry_days, renamed.logs_days) == (7, 400)
    cleared = await registry.set_tenant_retention("t2", None, None)
    assert cleared == Tenant(id="t2", name="Two", created=CREATED)
    assert await registry.set_tenant_retention("nobody", 1, 1) is None


async def test_old_log_lines_are_found_by_tenant_or_besides_tenants(backend: Backend) -> None:
    lines = [
        NewLine(tenant, "n1", T0 + i, LEVELS["INFO"], "agent", f"{tenant or 'hub'} {i}")
        for i in range(3)
        for tenant in ("t1", "t2", HUB_TENANT)
    ]
    await backend.logs.append(lines)

    async def older(ts: int, limit: int = 10, **which: Any) -> list[str]:
        return [line.message for line in await backend.logs.older_than(ts, limit, **which)]

    assert await older(T0 + 2, tenant="t1") == ["t1 0", "t1 1"]
    assert await older(T0 + 3, 2, tenant="t2") == ["t2 0", "t2 1"]
    assert sorted(await older(T0 + 1, other_than=["t1"])) == ["hub 0", "t2 0"]
    assert sorted(await older(T0 + 1, other_than=["t1", "t2"])) == ["hub 0"]
    assert await older(T0 + 3, tenant="t3") == []

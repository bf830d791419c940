"""Per-tenant retention through the API of a real hub: a tenant set to keep raw telemetry and log lines for a short
time loses its old ones at the next retention round, its hourly aggregates still answer from the rollups, and the
other tenants keep theirs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contracts.telemetry import Reading
from hub.clock import now_ms
from hub.store.logs import LEVELS, LogQuery, NewLine
from hub.store.telemetry import DeviceReadings
from tests.helpers.hub import Api, running_hub
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)

DAY, HOUR = 86_400_000, 3_600_000
TENANT = "/api/v1/tenants/brief"
DEVICES = (("d-brief", "brief"), ("d-default", "default"))


async def test_a_tenants_own_retention_takes_its_old_telemetry_and_log_lines(tmp_path: Path) -> None:
    settings = {
        "telemetry": {"retention_interval_s": 0.2},
        "logs": {"retention_interval_s": 1, "hub_lines_per_s": 0},
    }
    async with running_hub(tmp_path / "hub", **settings) as hub:
        api = await Api.login(hub.url)
        try:
            await api.created("/api/v1/tenants", {"id": "brief", "name": "Brief"})
            await api.refused("PATCH", TENANT, 422, {"telemetry_days": 0})
            await api.refused("PATCH", TENANT, 422, {"logs_days": 36501})
            await api.refused("PATCH", TENANT, 422, {})
            await api.refused("PATCH", TENANT, 422, {"name": None})
            await api.refused("PATCH", "/api/v1/tenants/nobody", 404, {"logs_days": 1})
            response = await api.http.patch(TENANT, json={"telemetry_days": 1, "logs_days": 2})
            assert response.status_code == 200, response.text
            assert response.json() | {"created": None} == {
                "id": "brief",
                "name": "Brief",
                "created": None,
                "telemetry_days": 1,
                "logs_days": 2,
            }
            # A new name leaves the retention as it was.
            renamed = (await api.http.patch(TENANT, json={"name": "Short"})).json()
            assert (renamed["name"], renamed["telemetry_days"], renamed["logs_days"]) == ("Short", 1, 2)

            # Three days old: past the tenant's days, within the hub's (raw points kept, lines 14 days).
            old = (now_ms() - 3 * DAY) // HOUR * HOUR
            await api.create_device("d-brief", tenant="brief")
            await api.create_device("d-default")
            readings = [Reading("t", old + i * 600_000, float(i), None) for i in range(12)]  # two hours
            await hub.services.store.telemetry.write_points(
                [
                    DeviceReadings("d-brief", "brief", old, readings),
                    DeviceReadings("d-default", "default", old, readings),
                ]
            )
            await hub.services.logs.store.append(
                [
                    NewLine(tenant, "n1", old, LEVELS["INFO"], "agent", f"{tenant} line")
                    for tenant in ("brief", "default")
                ]
            )

            async def points(device: str, **params: Any) -> list[Any]:
                response = await api.http.get(f"/api/v1/devices/{device}/telemetry", params={"key": "t", **params})
                assert response.status_code == 200, response.text
                return [point["value"] for point in response.json()["points"]]

            async def brief_points_gone() -> bool:
                return await points("d-brief") == []

            await eventually(brief_points_gone, within=20, what="the brief tenant's old points removed")
            assert await points("d-default") == [float(i) for i in range(12)]
            assert await points("d-brief", agg="avg", interval="1h") == [2.5, 8.5]

            async def lines() -> list[str]:
                return [line.message for line in await hub.services.logs.store.search(LogQuery())]

            async def brief_lines_gone() -> list[str]:
                return [] if "brief line" in (found := await lines()) else found

            assert await eventually(brief_lines_gone, within=20, what="the brief tenant's old lines removed") == [
                "default line"
            ]
        finally:
            await api.close()

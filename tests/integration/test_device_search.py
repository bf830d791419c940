"""Device listing's text search (``GET /api/v1/devices?q=``): by id or name, any case, with the other filters."""

from __future__ import annotations

from typing import Any

import pytest

from cloud.runtime import HubRuntime
from tests.helpers.hub import Api

pytestmark = pytest.mark.timeout(60)


async def _ids(api: Api, **params: Any) -> tuple[list[str], int]:
    response = await api.http.get("/api/v1/devices", params=params)
    assert response.status_code == 200, response.text
    page = response.json()
    return [d["id"] for d in page["items"]], page["total"]


async def test_search_matches_part_of_the_id_or_the_name_in_any_case(api: Api) -> None:
    await api.create_device("pump-01", name="Cellar Pump")
    await api.create_device("pump-02", name="Garden pump", labels={"site": "north"})
    await api.create_device("valve-7", name="Main valve", labels={"site": "north"})
    await api.create_device("meter_a", name="Water meter 100%")

    assert await _ids(api, q="pump") == (["pump-01", "pump-02"], 2)
    assert await _ids(api, q="PUMP-0") == (["pump-01", "pump-02"], 2)
    assert await _ids(api, q="cellar") == (["pump-01"], 1)  # the name only
    assert await _ids(api, q="lve-") == (["valve-7"], 1)  # inside the id
    assert await _ids(api, q="nothing-like-it") == ([], 0)
    # An empty search is no filter.
    assert (await _ids(api, q=""))[1] == 4


async def test_wildcards_in_the_search_match_themselves(api: Api) -> None:
    await api.create_device("meter_a", name="Water meter 100%")
    await api.create_device("meterxa", name="Water meter 1000")
    assert await _ids(api, q="_") == (["meter_a"], 1)
    assert await _ids(api, q="100%") == (["meter_a"], 1)
    assert await _ids(api, q="%") == (["meter_a"], 1)
    assert await _ids(api, q="\\") == ([], 0)


async def test_search_combines_with_filters_and_pages(api: Api) -> None:
    for i in range(5):
        await api.create_device(f"sensor-{i}", labels={"zone": "a" if i % 2 else "b"})
    await api.create_device("other", labels={"zone": "a"})
    assert await _ids(api, q="sensor", label="zone=a") == (["sensor-1", "sensor-3"], 2)
    assert await _ids(api, q="sensor", limit=2, offset=2) == (["sensor-2", "sensor-3"], 5)
    assert await _ids(api, q="sensor", status="online") == ([], 0)
    assert await _ids(api, q="sensor", kind="gateway") == ([], 0)


async def test_search_longer_than_100_characters_is_refused(api: Api) -> None:
    assert (await _ids(api, q="x" * 100)) == ([], 0)
    refused = await api.http.get("/api/v1/devices", params={"q": "x" * 101})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "invalid_request"


async def test_search_stays_inside_the_callers_tenant(hub: HubRuntime, api: Api) -> None:
    for tenant in ("tenant-a", "tenant-b"):
        assert (await api.http.post("/api/v1/tenants", json={"id": tenant, "name": tenant})).status_code == 201
    user = {"username": "searcher", "password": "a-long-password-1", "tenant": "tenant-a"}
    assert (await api.http.post("/api/v1/users", json=user)).status_code == 201
    await api.create_device("shared-name-a", tenant="tenant-a")
    await api.create_device("shared-name-b", tenant="tenant-b")
    searcher = await Api.login(hub.url, "searcher", "a-long-password-1")
    try:
        assert await _ids(searcher, q="shared") == (["shared-name-a"], 1)
    finally:
        await searcher.close()
    assert await _ids(api, q="shared") == (["shared-name-a", "shared-name-b"], 2)

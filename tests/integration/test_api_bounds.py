"""Query input out of range gets a 422 that names the parameter, and no query string reaches a 500."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route

from cloud.api.app import create_app
from cloud.api.params import MAX_OFFSET
from cloud.runtime import HubRuntime
from contracts.telemetry import MAX_TS_MS, MIN_TS_MS
from tests.helpers.hub import Api, store_readings

pytestmark = pytest.mark.timeout(60)

HUGE = "99999999999999999999999"  # past the signed 64 bits SQLite binds
KEY = "t"


@dataclass(frozen=True)
class Seeded:
    """A gateway with stored readings under ``KEY``, so that queries reach the store."""

    gateway: str
    tenant: str = "default"


@pytest.fixture
async def seeded(hub: HubRuntime, api: Api, unique_id: str) -> AsyncIterator[Seeded]:
    secret = (await api.create_device(unique_id, kind="gateway"))["credentials"]["password"]
    now = time.time_ns() // 1_000_000
    readings = [{"ts": now - 1000 * i, "values": {KEY: i}, "seq": i} for i in range(3)]
    await store_readings(hub, api, unique_id, secret, readings, KEY)
    yield Seeded(gateway=unique_id)


def _error(response_json: object) -> dict[str, str]:
    assert isinstance(response_json, dict)
    error: dict[str, str] = response_json["error"]
    assert error["code"] == "invalid_request"
    return error


@pytest.mark.parametrize("name", ["start", "end"])
async def test_huge_telemetry_time_gets_422_naming_it(api: Api, seeded: Seeded, name: str) -> None:
    r = await api.http.get(f"/api/v1/devices/{seeded.gateway}/telemetry", params={"key": KEY, name: HUGE})
    assert r.status_code == 422, r.text
    assert _error(r.json())["message"].startswith(f"{name}: ")


@pytest.mark.parametrize("path", ["/api/v1/devices", "/api/v1/nodes"])
async def test_huge_offset_gets_422_naming_it(api: Api, seeded: Seeded, path: str) -> None:
    r = await api.http.get(path, params={"offset": HUGE})
    assert r.status_code == 422, r.text
    assert _error(r.json())["message"].startswith("query.offset: ")


# The ranges docs/api.md gives: path ({gateway} for the seeded one), parameter, lowest, highest, other parameters.
DOCUMENTED = [
    ("/api/v1/devices", "limit", 1, 1000, {}),
    ("/api/v1/devices", "offset", 0, MAX_OFFSET, {}),
    ("/api/v1/nodes", "limit", 1, 1000, {}),
    ("/api/v1/nodes", "offset", 0, MAX_OFFSET, {}),
    ("/api/v1/nodes/{gateway}/logs", "limit", 1, 2000, {}),
    ("/api/v1/devices/{gateway}/telemetry", "limit", 1, 100_000, {"key": KEY}),
    ("/api/v1/devices/{gateway}/telemetry", "start", MIN_TS_MS, MAX_TS_MS, {"key": KEY}),
    ("/api/v1/devices/{gateway}/telemetry", "end", MIN_TS_MS, MAX_TS_MS, {"key": KEY}),
]


@pytest.mark.parametrize(("path", "name", "lowest", "highest", "other"), DOCUMENTED)
async def test_numeric_bounds_are_as_documented(
    api: Api, seeded: Seeded, path: str, name: str, lowest: int, highest: int, other: dict[str, str]
) -> None:
    path = path.format(gateway=seeded.gateway)
    for inside in (lowest, highest):
        r = await api.http.get(path, params={**other, name: inside})
        assert r.status_code == 200, r.text
    for outside in (lowest - 1, highest + 1, HUGE, "x"):
        r = await api.http.get(path, params={**other, name: outside})
        assert r.status_code == 422, (outside, r.text)
        assert name in _error(r.json())["message"].partition(":")[0]


@pytest.mark.parametrize(("interval", "status"), [("1ms", 200), ("366d", 200), ("0ms", 422), ("367d", 422)])
async def test_interval_bounds_are_as_documented(api: Api, seeded: Seeded, interval: str, status: int) -> None:
    params = {"key": KEY, "agg": "count", "interval": interval}
    r = await api.http.get(f"/api/v1/devices/{seeded.gateway}/telemetry", params=params)
    assert r.status_code == status, r.text


async def test_telemetry_time_bounds_are_as_documented(api: Api, seeded: Seeded) -> None:
    path = f"/api/v1/devices/{seeded.gateway}/telemetry"
    inside = [(str(MIN_TS_MS), str(MAX_TS_MS)), ("2000-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z")]
    for start, end in inside:
        r = await api.http.get(path, params={"key": KEY, "start": start, "end": end})
        assert r.status_code == 200, r.text
        assert len(r.json()["points"]) == 3
    outside = [str(MIN_TS_MS - 1), str(MAX_TS_MS + 1), "1999-12-31T23:59:59.999Z", "9999-12-31T23:59:59-01:00"]
    outside += ["0", "9" * 5000, "\N{SUPERSCRIPT TWO}"]
    for raw in outside:
        r = await api.http.get(path, params={"key": KEY, "start": raw})
        assert r.status_code == 422, (raw[:40], r.text)
        assert _error(r.json())["message"].startswith("start: ")


# --- Every GET route against arbitrary query strings -------------------------------------------------

# Past what SQLite binds (signed 64 bits) and at its edges, then any integer at all.
_EXTREME = st.sampled_from([str(2**63), HUGE, str(10**30), str(2**63 - 1), str(-(2**63) - 1)])
_NUMBERS = st.one_of(_EXTREME, st.integers().map(str))
_TYPICAL = [HUGE, f"-{HUGE}", "0", "-1", "", "1e309", "NaN", "inf", "9" * 4400, "60s", "9999999999d"]
_TYPICAL += ["2026-11-22T10:00:00Z", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"]
_TYPICAL += ["asc", "desc", "avg", "count", "online", "gateway", "true", "a=b", "="]
_VALUES = st.one_of(_NUMBERS, st.sampled_from(_TYPICAL), st.text(max_size=40))


@dataclass(frozen=True)
class Endpoint:
    """One GET route: its path with ``{name}`` placeholders and the query parameters it declares."""

    path: str
    query: tuple[str, ...] = ()
    required: tuple[str, ...] = ()

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.path)


def _get_endpoints(app: FastAPI) -> list[Endpoint]:
    """Every GET route of ``app``: the API's from the schema FastAPI derives from its route table, then the rest."""
    # The schema rather than app.routes: FastAPI nests included routers in private types of its own.
    found: dict[str, Endpoint] = {}
    for path, operations in app.openapi()["paths"].items():
        if "get" in operations:
            query = [p for p in operations["get"].get("parameters", []) if p["in"] == "query"]
            names = tuple(p["name"] for p in query)
            found[path] = Endpoint(path, names, tuple(p["name"] for p in query if p.get("required")))
    for route in app.routes:  # /openapi.json, /docs, /redoc
        if isinstance(route, Route) and route.methods is not None and "GET" in route.methods:
            found.setdefault(route.path_format, Endpoint(route.path_format))
    return list(found.values())


def _mostly(right: st.SearchStrategy[str], wrong: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``right`` three times in four: a request reaches the store only when all but one of its inputs are valid."""
    return st.integers(0, 3).flatmap(lambda n: wrong if n == 0 else right)


def _query(endpoint: Endpoint, real: dict[str, str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    # The required parameters mostly right, one declared parameter most often a number at or past an
    # edge, and a pair or two with any key (a declared one again: a repeated key) and any value.
    def value(name: str) -> st.SearchStrategy[str]:
        return _mostly(st.just(real[name]), _VALUES) if name in real else _VALUES

    required = st.fixed_dictionaries({name: value(name) for name in endpoint.required})
    names = st.sampled_from(endpoint.query or ("limit", "offset", "start", "end"))
    focus = st.tuples(names, st.one_of(_EXTREME, _VALUES))
    others = st.lists(st.tuples(st.one_of(names, st.text(max_size=12)), _VALUES), max_size=2)
    pairs = st.builds(lambda given, one, more: [*given.items(), one, *more], required, focus, others)
    # Within what a server takes on one request line; beyond, the answer is a 4xx from the HTTP layer.
    return pairs.filter(lambda pairs: sum(len(k) + len(v) for k, v in pairs) <= 8000)


def _path(endpoint: Endpoint, real: dict[str, str]) -> st.SearchStrategy[str]:
    def value(name: str) -> st.SearchStrategy[str]:
        ids = st.just(real[name]) if name in real else st.sampled_from(sorted(set(real.values())))
        return _mostly(ids, st.text(max_size=30)).map(lambda raw: quote(raw, safe=""))

    values = st.fixed_dictionaries({name: value(name) for name in endpoint.path_params})
    return values.map(lambda values: endpoint.path.format(**values))


async def _status(http: httpx.AsyncClient, path: str, query: list[tuple[str, str]]) -> tuple[int, str]:
    async with http.stream("GET", path, params=tuple(query)) as response:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return response.status_code, "(a live stream)"  # open until the client leaves, as it does here
        return response.status_code, (await response.aread()).decode(errors="replace")[:300]


@pytest.fixture
async def admin_http(hub: HubRuntime, api: Api) -> AsyncIterator[httpx.AsyncClient]:
    """The platform admin's client with a new connection per request.

    Each request stands alone; and a new connection answers at once, where a reused one waits out a
    delayed ACK (about 40 ms) because the hub's listening socket does not give its connections TCP_NODELAY.
    """
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=hub.url, headers=api.http.headers, limits=limits, timeout=20) as http:
        yield http


@pytest.fixture
def endpoints(hub: HubRuntime) -> list[Endpoint]:
    # The route table of the app the hub serves, built by the same factory: new routes are fuzzed too.
    return _get_endpoints(create_app(hub.services))


async def test_routes_are_enumerated(endpoints: list[Endpoint]) -> None:
    by_path = {e.path: e for e in endpoints}
    assert {"/api/v1/devices", "/api/v1/nodes", "/api/v1/devices/{device_id}/live", "/docs"} <= set(by_path)
    telemetry = by_path["/api/v1/devices/{device_id}/telemetry"]
    assert telemetry.path_params == ["device_id"] and {"start", "end", "limit", "interval"} <= set(telemetry.query)


@pytest.mark.timeout(120)
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_no_query_string_gets_a_5xx(
    endpoints: list[Endpoint], admin_http: httpx.AsyncClient, seeded: Seeded, data: st.DataObject
) -> None:
    # One request per example to a GET route drawn from all of them, once more for each query parameter
    # it declares: of the 500, each route gets ten or more, one with seven parameters some ninety.
    real = {"device_id": seeded.gateway, "node_id": seeded.gateway, "tenant_id": seeded.tenant}
    real |= {"tenant": seeded.tenant, "name": "telemetry", "username": "admin", "key": KEY}
    endpoint = data.draw(st.sampled_from([e for e in endpoints for _ in range(1 + len(e.query))]), label="route")
    path = data.draw(_path(endpoint, real), label="path")
    query = data.draw(_query(endpoint, real), label="query")
    status, body = await _status(admin_http, path, query)
    assert status < 500, f"GET {path} {query!r}: {status} {body}"

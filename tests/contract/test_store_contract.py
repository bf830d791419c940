"""The store contract: every adapter (SQLite today, MongoDB later) must pass this suite unchanged.

Add a backend by adding its URL factory to ``BACKENDS``; nothing below may know which one runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import pytest

from contracts.devices import Device, DeviceKind, DeviceStatus, Tenant
from contracts.telemetry import Reading, Value
from hub.errors import Conflict, InvalidInput
from hub.store.base import (
    AggFn,
    AggregateQuery,
    DevicePatchRecord,
    DeviceQuery,
    DeviceReadings,
    ProvisioningTokenRecord,
    RangeQuery,
    StateKind,
    Store,
    UserRecord,
)
from hub.store.factory import open_store

pytestmark = pytest.mark.timeout(30)

BACKENDS: dict[str, Callable[[Path], str]] = {
    "sqlite": lambda tmp: f"sqlite:///{tmp / 'contract.db'}",
}
T0 = 1_795_000_000_000  # 2026-11-18T11:06:40Z
CREATED = datetime(2026, 11, 1, tzinfo=UTC)


class Point(NamedTuple):
    """One reading of one device, as the tests write them."""

    device_id: str
    key: str
    ts: int
    value: Value
    seq: int | None


def by_device(points: list[Point], seen: dict[str, int] | None = None) -> list[DeviceReadings]:
    """Group points into the per-device messages the store takes (in order), received as ``seen`` says.

    Without ``seen``, a device's message was received at the time of its newest point.
    """
    grouped: dict[str, list[Reading]] = {}
    for p in points:
        grouped.setdefault(p.device_id, []).append(Reading(p.key, p.ts, p.value, p.seq))
    return [
        DeviceReadings(device, "t1", (seen or {}).get(device, max(r.ts for r in readings)), readings)
        for device, readings in grouped.items()
    ]


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    s = open_store(BACKENDS[request.param](tmp_path))
    await s.open()
    yield s
    await s.close()


def _device(device_id: str, tenant: str = "t1", **extra: object) -> Device:
    return Device(id=device_id, name=device_id.upper(), tenant=tenant, created=CREATED, **extra)  # type: ignore[arg-type]


async def _with_devices(store: Store, *ids: str, tenant: str = "t1") -> None:
    if await store.get_tenant(tenant) is None:
        await store.create_tenant(Tenant(id=tenant, name=tenant, created=CREATED))
    for device_id in ids:
        await store.create_device(_device(device_id, tenant), f"hash-of-{device_id}")


@pytest.mark.parametrize("backend", sorted(BACKENDS))
async def test_ping_and_reopen_keep_data(backend: str, tmp_path: Path) -> None:
    url = BACKENDS[backend](tmp_path)
    first = open_store(url)
    await first.open()
    await first.ping()
    await _with_devices(first, "d1")
    await first.write_points(by_device([Point("d1", "t", T0, 1.5, None)], {"d1": T0}))
    await first.close()
    second = open_store(url)
    await second.open()
    try:
        assert (await second.get_device("d1")) is not None
        assert await second.latest("d1") == {"t": (T0, 1.5)}
    finally:
        await second.close()


async def test_tenants(store: Store) -> None:
    await store.create_tenant(Tenant(id="b", name="Bee", created=CREATED))
    await store.create_tenant(Tenant(id="a", name="Ay", created=CREATED))
    with pytest.raises(Conflict):
        await store.create_tenant(Tenant(id="a", name="again", created=CREATED))
    assert await store.get_tenant("a") == Tenant(id="a", name="Ay", created=CREATED)
    assert await store.get_tenant("zz") is None
    assert [t.id for t in await store.list_tenants()] == ["a", "b"]


async def test_device_lifecycle(store: Store) -> None:
    await _with_devices(store)
    device = _device("d1", kind=DeviceKind.GATEWAY, labels={"site": "north"})
    await store.create_device(device, "h1")
    with pytest.raises(Conflict):
        await store.create_device(device, "h2")
    assert await store.get_device("d1") == device
    secret = await store.get_device_secret("d1")
    assert secret is not None and (secret.secret_hash, secret.tenant, secret.enabled) == ("h1", "t1", True)
    assert secret.broker_hash is None
    assert await store.set_device_secret("d1", "h3", "b3")
    rotated = await store.get_device_secret("d1")
    assert rotated is not None and (rotated.secret_hash, rotated.broker_hash) == ("h3", "b3")
    assert not await store.set_device_secret("ghost", "h")
    await store.create_device(_device("d2"), "h4", "b4")
    listed = await store.list_device_secrets()
    assert [(s.device_id, s.secret_hash, s.broker_hash) for s in listed if s.device_id in ("d1", "d2")] == [
        ("d1", "h3", "b3"),
        ("d2", "h4", "b4"),
    ]

    updated = await store.update_device("d1", DevicePatchRecord(name="Renamed", labels={"a": "b"}, enabled=False))
    assert updated is not None and (updated.name, updated.labels, updated.enabled) == ("Renamed", {"a": "b"}, False)
    assert (await store.get_device_secret("d1")).enabled is False  # type: ignore[union-attr]
    unchanged = await store.update_device("d1", DevicePatchRecord())
    assert unchanged == updated
    assert await store.update_device("ghost", DevicePatchRecord(name="x")) is None

    await store.write_points(by_device([Point("d1", "t", T0, 1.0, None)], {"d1": T0}))
    await store.put_state("d1", StateKind.DESIRED, {"x": 1}, T0)
    assert await store.delete_device("d1")
    assert not await store.delete_device("d1")
    assert await store.get_device("d1") is None
    assert await store.get_device_secret("d1") is None
    assert await store.latest("d1") == {}
    assert await store.query_range(RangeQuery("d1", "t")) == []
    assert await store.get_state("d1", StateKind.DESIRED) is None
    # A new device of the same id starts empty.
    await store.create_device(_device("d1"), "h")
    assert await store.query_range(RangeQuery("d1", "t")) == []


async def test_device_listing_filters_and_pages(store: Store) -> None:
    await _with_devices(store, "a1", "a2", "a3", tenant="ta")
    await _with_devices(store, "b1", tenant="tb")
    await store.update_device("a2", DevicePatchRecord(labels={"site": "north"}))
    await store.update_device("b1", DevicePatchRecord(labels={"site": "north"}))
    await store.set_status("a3", DeviceStatus.ONLINE, T0)
    await store.create_device(_device("g1", "tb", kind=DeviceKind.GATEWAY), "h")

    async def ids(**filters: object) -> tuple[list[str], int]:
        page, total = await store.list_devices(DeviceQuery(**filters))  # type: ignore[arg-type]
        return [d.id for d in page], total

    assert await ids(kind=DeviceKind.GATEWAY) == (["g1"], 1)
    await store.delete_device("g1")
    assert await ids() == (["a1", "a2", "a3", "b1"], 4)
    assert await ids(tenant="ta") == (["a1", "a2", "a3"], 3)
    assert await ids(label=("site", "north")) == (["a2", "b1"], 2)
    assert await ids(tenant="ta", label=("site", "north")) == (["a2"], 1)
    assert await ids(label=("site", "south")) == ([], 0)
    assert await ids(status=DeviceStatus.ONLINE) == (["a3"], 1)
    assert await ids(limit=2) == (["a1", "a2"], 4)
    assert await ids(limit=2, offset=2) == (["a3", "b1"], 4)
    assert await ids(offset=10) == ([], 4)


async def test_status_and_last_seen(store: Store) -> None:
    await _with_devices(store, "d1", "d2")
    await store.set_status("d1", DeviceStatus.ONLINE, T0)
    await store.set_status("d2", DeviceStatus.ONLINE, T0)
    d1 = await store.get_device("d1")
    assert d1 is not None and d1.status is DeviceStatus.ONLINE
    assert d1.last_seen == datetime.fromisoformat("2026-11-18T11:06:40+00:00")
    await store.set_status("d1", DeviceStatus.OFFLINE, T0 + 5000)
    assert (await store.get_device("d1")).status is DeviceStatus.OFFLINE  # type: ignore[union-attr]
    await store.reset_statuses()
    page, _ = await store.list_devices(DeviceQuery(status=DeviceStatus.ONLINE))
    assert page == []


async def test_points_duplicates_latest_and_last_seen(store: Store) -> None:
    await _with_devices(store, "d1", "d2")
    batch = [
        Point("d1", "t", T0, 20.0, 1),
        Point("d1", "t", T0 + 1000, 21.0, 2),
        Point("d1", "on", T0, True, 1),
        Point("d1", "mode", T0, "eco", None),
        Point("d2", "t", T0, -1.0, None),
    ]
    result = await store.write_points(by_device(batch, {"d1": T0 + 1000, "d2": T0}))
    assert (result.stored, result.duplicates) == (5, 0)
    # Redelivery (same seq) and a repeated unsequenced reading (same ts) are dropped, not doubled.
    again = await store.write_points(by_device([Point("d1", "t", T0, 20.0, 1), Point("d2", "t", T0, -1.0, None)]))
    assert (again.stored, again.duplicates) == (0, 2)
    assert await store.query_range(RangeQuery("d1", "t")) == [(T0, 20.0), (T0 + 1000, 21.0)]
    assert await store.latest("d1") == {"t": (T0 + 1000, 21.0), "on": (T0, True), "mode": (T0, "eco")}
    # An older reading arriving late is stored but does not replace the latest value.
    await store.write_points(by_device([Point("d1", "t", T0 - 5000, 5.0, 0)], {"d1": T0 - 5000}))
    assert (await store.latest("d1"))["t"] == (T0 + 1000, 21.0)
    assert [ts for ts, _ in await store.query_range(RangeQuery("d1", "t"))] == [T0 - 5000, T0, T0 + 1000]
    d1 = await store.get_device("d1")
    assert d1 is not None and d1.last_seen == datetime.fromisoformat("2026-11-18T11:06:41+00:00")
    assert await store.latest("nobody") == {}


async def test_range_bounds_order_and_limit(store: Store) -> None:
    await _with_devices(store, "d1")
    await store.write_points(by_device([Point("d1", "v", T0 + i * 1000, float(i), i) for i in range(10)]))

    async def q(**kw: object) -> list[float]:
        return [v for _, v in await store.query_range(RangeQuery("d1", "v", **kw))]  # type: ignore[arg-type,misc]

    assert await q() == [float(i) for i in range(10)]
    assert await q(start=T0 + 2000, end=T0 + 5000) == [2.0, 3.0, 4.0]  # start inclusive, end exclusive
    assert await q(descending=True, limit=3) == [9.0, 8.0, 7.0]
    assert await q(start=T0 + 8000, limit=1) == [8.0]
    assert await q(start=T0 + 20_000) == []
    assert await store.query_range(RangeQuery("d1", "other")) == []


async def test_aggregates_match_hand_computed_buckets(store: Store) -> None:
    await _with_devices(store, "d1")
    minute = 60_000
    base = (T0 // minute + 1) * minute  # an aligned bucket start
    points = [
        Point("d1", "t", base + 0, 1.0, None),
        Point("d1", "t", base + 10_000, 2.0, None),
        Point("d1", "t", base + 59_999, 6.0, None),
        Point("d1", "t", base + minute, 10.0, None),
        Point("d1", "t", base + minute + 1, 20.0, None),
        Point("d1", "t", base + 3 * minute + 5, -5.0, None),
        Point("d1", "t", base + 3 * minute + 6, "n/a", None),
    ]
    await store.write_points(by_device(points))

    async def agg(fn: AggFn, **kw: object) -> list[tuple[int, float]]:
        return await store.query_aggregate(AggregateQuery(RangeQuery("d1", "t", **kw), fn, minute))  # type: ignore[arg-type]

    b0, b1, b3 = base, base + minute, base + 3 * minute
    assert await agg(AggFn.AVG) == [(b0, 3.0), (b1, 15.0), (b3, -5.0)]
    assert await agg(AggFn.MIN) == [(b0, 1.0), (b1, 10.0), (b3, -5.0)]
    assert await agg(AggFn.MAX) == [(b0, 6.0), (b1, 20.0), (b3, -5.0)]
    assert await agg(AggFn.SUM) == [(b0, 9.0), (b1, 30.0), (b3, -5.0)]
    # count counts every point, strings included; the numeric aggregates skip strings.
    assert await agg(AggFn.COUNT) == [(b0, 3.0), (b1, 2.0), (b3, 2.0)]
    assert await agg(AggFn.AVG, start=b1, end=b3) == [(b1, 15.0)]
    assert await agg(AggFn.MAX, descending=True, limit=2) == [(b3, -5.0), (b1, 20.0)]


async def test_booleans_aggregate_as_zero_and_one(store: Store) -> None:
    await _with_devices(store, "d1")
    await store.write_points(by_device([Point("d1", "door", T0 + i, i % 4 == 0, None) for i in range(8)]))
    [(_, mean)] = await store.query_aggregate(AggregateQuery(RangeQuery("d1", "door"), AggFn.AVG, 3_600_000))
    assert mean == 0.25


async def test_state_documents_are_versioned(store: Store) -> None:
    await _with_devices(store, "d1", "d2")
    assert await store.get_state("d1", StateKind.DESIRED) is None
    first = await store.put_state("d1", StateKind.DESIRED, {"interval": 5}, T0)
    second = await store.put_state("d1", StateKind.DESIRED, {"interval": 7, "on": True}, T0 + 1)
    assert (first.version, second.version) == (1, 2)
    assert await store.get_state("d1", StateKind.DESIRED) == second
    assert second.doc == {"interval": 7, "on": True} and second.updated == T0 + 1
    await store.put_state("d1", StateKind.REPORTED, {"interval": 5}, T0)
    assert (await store.get_state("d1", StateKind.REPORTED)).version == 1  # type: ignore[union-attr]
    await store.put_state("d2", StateKind.DESIRED, {"x": 1}, T0)
    listed = dict(await store.list_states(StateKind.DESIRED))
    assert set(listed) == {"d1", "d2"} and listed["d1"] == second


async def test_users(store: Store) -> None:
    await _with_devices(store, tenant="ta")
    admin = UserRecord("admin", "h-admin", "admin", None, T0)
    alice = UserRecord("alice", "h-alice", "tenant_admin", "ta", T0)
    await store.create_user(admin)
    await store.create_user(alice)
    with pytest.raises(Conflict):
        await store.create_user(alice)
    await store.put_user(UserRecord("admin", "h-new", "admin", None, T0))
    assert (await store.get_user("admin")).password_hash == "h-new"  # type: ignore[union-attr]
    assert await store.get_user("ghost") is None
    assert [u.username for u in await store.list_users("ta")] == ["alice"]
    assert {u.username for u in await store.list_users(None)} == {"admin", "alice"}


async def test_provisioning_tokens_are_used_up_and_expire(store: Store) -> None:
    await _with_devices(store, tenant="ta")

    def token(token_id: str, uses: int, expires: int) -> ProvisioningTokenRecord:
        return ProvisioningTokenRecord(token_id, "ta", "h", expires, uses, {"site": "n"}, "admin", T0)

    await store.create_token(token("pt-1", 2, T0 + 1000))
    await store.create_token(token("pt-2", 1, T0 + 10))
    with pytest.raises(Conflict):
        await store.create_token(token("pt-1", 1, T0))
    with pytest.raises(InvalidInput):
        await store.create_token(ProvisioningTokenRecord("pt-x", "nope", "h", T0, 1, {}, "admin", T0))
    assert (await store.get_token("pt-1")) == token("pt-1", 2, T0 + 1000)
    assert {t.id for t in await store.list_tokens("ta")} == {"pt-1", "pt-2"}
    assert await store.list_tokens("other") == []
    assert await store.use_token("pt-1", T0) and await store.use_token("pt-1", T0)
    assert not await store.use_token("pt-1", T0)  # used up
    assert not await store.use_token("pt-2", T0 + 10)  # expired
    assert not await store.use_token("ghost", T0)
    assert (await store.get_token("pt-1")).uses_left == 0  # type: ignore[union-attr]
    assert await store.delete_token("pt-2") and not await store.delete_token("pt-2")


async def test_node_logs_keep_the_newest_lines(store: Store) -> None:
    await _with_devices(store, "d1", "d2")
    await store.append_logs("d1", [(T0 + i, "INFO", "agent", f"line {i}") for i in range(5)], keep=3)
    await store.append_logs("d2", [(T0, "ERROR", "agent", "other")], keep=3)
    assert [m for _, _, _, m in await store.recent_logs("d1", 10)] == ["line 2", "line 3", "line 4"]
    assert await store.recent_logs("d1", 1) == [(T0 + 4, "INFO", "agent", "line 4")]
    await store.delete_device("d1")
    assert await store.recent_logs("d1", 10) == []
    assert len(await store.recent_logs("d2", 10)) == 1


async def test_equal_times_come_back_in_seq_order_whatever_the_write_order(store: Store) -> None:
    await _with_devices(store, "d1")
    for seq in (4, 3, 5):
        await store.write_points(by_device([Point("d1", "i", T0, float(seq), seq)]))
    assert [v for _, v in await store.query_range(RangeQuery("d1", "i"))] == [3.0, 4.0, 5.0]
    newest_first = await store.query_range(RangeQuery("d1", "i", descending=True, limit=2))
    assert [v for _, v in newest_first] == [5.0, 4.0]


async def test_messages_with_interleaved_sensors_land_in_each_series_whole(store: Store) -> None:
    await _with_devices(store, "d1", "d2")
    # Three messages of d1 in one write, each carrying both sensors in turn; one of d2 in between.
    messages = [
        DeviceReadings(
            "d1",
            "t1",
            T0,
            [Reading(key, T0 + 10 * m + i, float(10 * m + i), 10 * m + i) for i in range(6) for key in ("a", "b")],
        )
        for m in range(3)
    ]
    messages.insert(1, DeviceReadings("d2", "t1", T0, [Reading("a", T0, -1.0, None)]))
    result = await store.write_points(messages)
    assert (result.stored, result.duplicates) == (37, 0)
    expected = [(T0 + 10 * m + i, float(10 * m + i)) for m in range(3) for i in range(6)]
    assert await store.query_range(RangeQuery("d1", "a")) == expected
    assert await store.query_range(RangeQuery("d1", "b")) == expected
    assert await store.query_range(RangeQuery("d2", "a")) == [(T0, -1.0)]
    assert await store.latest("d1") == {"a": expected[-1], "b": expected[-1]}

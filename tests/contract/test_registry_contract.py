"""The registry store's contract (tenants, devices, credentials records, status): every backend passes it."""

from __future__ import annotations

from datetime import datetime

import pytest

from contracts.devices import DeviceKind, DeviceStatus, Tenant
from hub.errors import Conflict
from hub.store.backend import Backend
from hub.store.registry import DevicePatchRecord, DeviceQuery
from hub.store.state import StateKind
from hub.store.telemetry import RangeQuery
from tests.contract.support import CREATED, T0, Point, by_device, device, with_devices

pytestmark = pytest.mark.timeout(30)


async def test_tenants(backend: Backend) -> None:
    await backend.registry.create_tenant(Tenant(id="b", name="Bee", created=CREATED))
    await backend.registry.create_tenant(Tenant(id="a", name="Ay", created=CREATED))
    with pytest.raises(Conflict):
        await backend.registry.create_tenant(Tenant(id="a", name="again", created=CREATED))
    assert await backend.registry.get_tenant("a") == Tenant(id="a", name="Ay", created=CREATED)
    assert await backend.registry.get_tenant("zz") is None
    assert [t.id for t in await backend.registry.list_tenants()] == ["a", "b"]


async def test_device_lifecycle(backend: Backend) -> None:
    await with_devices(backend)
    gateway = device("d1", kind=DeviceKind.GATEWAY, labels={"site": "north"})
    await backend.registry.create_device(gateway, "h1")
    with pytest.raises(Conflict):
        await backend.registry.create_device(gateway, "h2")
    assert await backend.registry.get_device("d1") == gateway
    secret = await backend.registry.get_device_secret("d1")
    assert secret is not None and (secret.secret_hash, secret.tenant, secret.enabled) == ("h1", "t1", True)
    assert secret.broker_hash is None
    assert await backend.registry.set_device_secret("d1", "h3", "b3")
    rotated = await backend.registry.get_device_secret("d1")
    assert rotated is not None and (rotated.secret_hash, rotated.broker_hash) == ("h3", "b3")
    assert not await backend.registry.set_device_secret("ghost", "h")
    await backend.registry.create_device(device("d2"), "h4", "b4")
    listed = await backend.registry.list_device_secrets()
    assert [(s.device_id, s.secret_hash, s.broker_hash) for s in listed if s.device_id in ("d1", "d2")] == [
        ("d1", "h3", "b3"),
        ("d2", "h4", "b4"),
    ]

    updated = await backend.registry.update_device(
        "d1", DevicePatchRecord(name="Renamed", labels={"a": "b"}, enabled=False)
    )
    assert updated is not None and (updated.name, updated.labels, updated.enabled) == ("Renamed", {"a": "b"}, False)
    assert (await backend.registry.get_device_secret("d1")).enabled is False  # type: ignore[union-attr]
    unchanged = await backend.registry.update_device("d1", DevicePatchRecord())
    assert unchanged == updated
    assert await backend.registry.update_device("ghost", DevicePatchRecord(name="x")) is None

    await backend.telemetry.write_points(by_device([Point("d1", "t", T0, 1.0, None)], {"d1": T0}))
    await backend.state.put_state("d1", StateKind.DESIRED, {"x": 1}, T0)
    assert await backend.registry.delete_device("d1")
    assert not await backend.registry.delete_device("d1")
    assert await backend.registry.get_device("d1") is None
    assert await backend.registry.get_device_secret("d1") is None
    assert await backend.telemetry.latest("d1") == {}
    assert await backend.telemetry.query_range(RangeQuery("d1", "t")) == []
    assert await backend.state.get_state("d1", StateKind.DESIRED) is None
    # A new device of the same id starts empty.
    await backend.registry.create_device(device("d1"), "h")
    assert await backend.telemetry.query_range(RangeQuery("d1", "t")) == []


async def test_device_listing_filters_and_pages(backend: Backend) -> None:
    await with_devices(backend, "a1", "a2", "a3", tenant="ta")
    await with_devices(backend, "b1", tenant="tb")
    await backend.registry.update_device("a2", DevicePatchRecord(labels={"site": "north"}))
    await backend.registry.update_device("b1", DevicePatchRecord(labels={"site": "north"}))
    await backend.registry.set_status("a3", DeviceStatus.ONLINE, T0)
    await backend.registry.create_device(device("g1", "tb", kind=DeviceKind.GATEWAY), "h")

    async def ids(**filters: object) -> tuple[list[str], int]:
        page, total = await backend.registry.list_devices(DeviceQuery(**filters))  # type: ignore[arg-type]
        return [d.id for d in page], total

    assert await ids(kind=DeviceKind.GATEWAY) == (["g1"], 1)
    await backend.registry.delete_device("g1")
    assert await ids() == (["a1", "a2", "a3", "b1"], 4)
    assert await ids(tenant="ta") == (["a1", "a2", "a3"], 3)
    assert await ids(label=("site", "north")) == (["a2", "b1"], 2)
    assert await ids(tenant="ta", label=("site", "north")) == (["a2"], 1)
    assert await ids(label=("site", "south")) == ([], 0)
    assert await ids(status=DeviceStatus.ONLINE) == (["a3"], 1)
    assert await ids(limit=2) == (["a1", "a2"], 4)
    assert await ids(limit=2, offset=2) == (["a3", "b1"], 4)
    assert await ids(offset=10) == ([], 4)


async def test_label_filters_follow_every_change_of_the_labels(backend: Backend) -> None:
    await with_devices(backend, "c2", "c3", tenant="ta")
    odd = {"a.dotted:key/with_marks": "x y", "site": "north"}
    await backend.registry.create_device(device("c1", "ta", labels=odd), "h")
    await backend.registry.update_device("c2", DevicePatchRecord(labels={"site": "north"}))

    async def ids(label: tuple[str, str], **filters: object) -> list[str]:
        query = DeviceQuery(label=label, **filters)  # type: ignore[arg-type]
        page, total = await backend.registry.list_devices(query)
        assert total == len(page)
        return [d.id for d in page]

    assert await ids(("a.dotted:key/with_marks", "x y")) == ["c1"]
    assert await ids(("site", "north")) == ["c1", "c2"]
    assert await ids(("site", "north"), status=DeviceStatus.OFFLINE, kind=DeviceKind.DEVICE) == ["c1", "c2"]
    assert await ids(("site", "nor")) == [] and await ids(("sit", "north")) == []
    await backend.registry.update_device("c1", DevicePatchRecord(labels={"site": "south"}))
    assert await ids(("site", "north")) == ["c2"]
    assert await ids(("site", "south")) == ["c1"]
    assert await ids(("a.dotted:key/with_marks", "x y")) == []
    await backend.registry.update_device("c2", DevicePatchRecord(name="renamed"))
    assert await ids(("site", "north")) == ["c2"]
    await backend.registry.delete_device("c2")
    assert await ids(("site", "north")) == []
    await backend.registry.create_device(device("c2", "ta", labels={"site": "north"}), "h")
    assert await ids(("site", "north")) == ["c2"]


async def test_a_device_names_a_profile_that_a_patch_changes_or_removes(backend: Backend) -> None:
    await with_devices(backend, "plain", tenant="ta")
    await with_devices(backend, tenant="tb")
    await backend.registry.create_device(device("s1", "ta", profile="sensor"), "h")
    await backend.registry.create_device(device("s2", "ta", profile="sensor"), "h")
    await backend.registry.create_device(device("m1", "tb", profile="sensor"), "h")
    s1 = await backend.registry.get_device("s1")
    assert s1 is not None and s1.profile == "sensor"
    assert (await backend.registry.get_device("plain")).profile is None  # type: ignore[union-attr]

    async def ids(**filters: object) -> tuple[list[str], int]:
        page, total = await backend.registry.list_devices(DeviceQuery(**filters))  # type: ignore[arg-type]
        return [d.id for d in page], total

    assert await ids(profile="sensor") == (["m1", "s1", "s2"], 3)
    assert await ids(profile="sensor", tenant="ta") == (["s1", "s2"], 2)
    assert await ids(profile="ghost") == ([], 0)
    # Absent leaves it; a name replaces it; "" removes it.
    renamed = await backend.registry.update_device("s1", DevicePatchRecord(name="Renamed"))
    assert renamed is not None and renamed.profile == "sensor"
    moved = await backend.registry.update_device("s1", DevicePatchRecord(profile="meter"))
    assert moved is not None and moved.profile == "meter"
    removed = await backend.registry.update_device("s2", DevicePatchRecord(profile=""))
    assert removed is not None and removed.profile is None
    assert await ids(profile="sensor", tenant="ta") == ([], 0)
    assert await ids(profile="meter") == (["s1"], 1)
    assert (await backend.registry.get_device("s2")).profile is None  # type: ignore[union-attr]


async def test_status_and_last_seen(backend: Backend) -> None:
    await with_devices(backend, "d1", "d2")
    await backend.registry.set_status("d1", DeviceStatus.ONLINE, T0)
    await backend.registry.set_status("d2", DeviceStatus.ONLINE, T0)
    d1 = await backend.registry.get_device("d1")
    assert d1 is not None and d1.status is DeviceStatus.ONLINE
    assert d1.last_seen == datetime.fromisoformat("2026-11-18T11:06:40+00:00")
    await backend.registry.set_status("d1", DeviceStatus.OFFLINE, T0 + 5000)
    assert (await backend.registry.get_device("d1")).status is DeviceStatus.OFFLINE  # type: ignore[union-attr]
    await backend.registry.reset_statuses()
    page, _ = await backend.registry.list_devices(DeviceQuery(status=DeviceStatus.ONLINE))
    assert page == []

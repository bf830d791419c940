"""The telemetry store's contract (points, duplicates, ranges, aggregates, latest values): every backend passes it."""

from __future__ import annotations

from datetime import datetime

import pytest

from contracts.telemetry import Reading
from hub.store.backend import Backend
from hub.store.telemetry import AggFn, AggregateQuery, DeviceReadings, RangeQuery
from tests.contract.support import T0, Point, by_device, with_devices

pytestmark = pytest.mark.timeout(30)


async def test_points_duplicates_latest_and_last_seen(backend: Backend) -> None:
    await with_devices(backend, "d1", "d2")
    batch = [
        Point("d1", "t", T0, 20.0, 1),
        Point("d1", "t", T0 + 1000, 21.0, 2),
        Point("d1", "on", T0, True, 1),
        Point("d1", "mode", T0, "eco", None),
        Point("d2", "t", T0, -1.0, None),
    ]
    result = await backend.telemetry.write_points(by_device(batch, {"d1": T0 + 1000, "d2": T0}))
    assert (result.stored, result.duplicates) == (5, 0)
    # Redelivery (same seq) and a repeated unsequenced reading (same ts) are dropped, not doubled.
    again = await backend.telemetry.write_points(
        by_device([Point("d1", "t", T0, 20.0, 1), Point("d2", "t", T0, -1.0, None)])
    )
    assert (again.stored, again.duplicates) == (0, 2)
    assert await backend.telemetry.query_range(RangeQuery("d1", "t")) == [(T0, 20.0), (T0 + 1000, 21.0)]
    assert await backend.telemetry.latest("d1") == {"t": (T0 + 1000, 21.0), "on": (T0, True), "mode": (T0, "eco")}
    # An older reading arriving late is stored but does not replace the latest value.
    await backend.telemetry.write_points(by_device([Point("d1", "t", T0 - 5000, 5.0, 0)], {"d1": T0 - 5000}))
    assert (await backend.telemetry.latest("d1"))["t"] == (T0 + 1000, 21.0)
    assert [ts for ts, _ in await backend.telemetry.query_range(RangeQuery("d1", "t"))] == [T0 - 5000, T0, T0 + 1000]
    d1 = await backend.registry.get_device("d1")
    assert d1 is not None and d1.last_seen == datetime.fromisoformat("2026-11-18T11:06:41+00:00")
    assert await backend.telemetry.latest("nobody") == {}


async def test_range_bounds_order_and_limit(backend: Backend) -> None:
    await with_devices(backend, "d1")
    await backend.telemetry.write_points(by_device([Point("d1", "v", T0 + i * 1000, float(i), i) for i in range(10)]))

    async def q(**kw: object) -> list[float]:
        return [v for _, v in await backend.telemetry.query_range(RangeQuery("d1", "v", **kw))]  # type: ignore[arg-type,misc]

    assert await q() == [float(i) for i in range(10)]
    assert await q(start=T0 + 2000, end=T0 + 5000) == [2.0, 3.0, 4.0]  # start inclusive, end exclusive
    assert await q(descending=True, limit=3) == [9.0, 8.0, 7.0]
    assert await q(start=T0 + 8000, limit=1) == [8.0]
    assert await q(start=T0 + 20_000) == []
    assert await backend.telemetry.query_range(RangeQuery("d1", "other")) == []


async def test_aggregates_match_hand_computed_buckets(backend: Backend) -> None:
    await with_devices(backend, "d1")
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
    await backend.telemetry.write_points(by_device(points))

    async def agg(fn: AggFn, **kw: object) -> list[tuple[int, float]]:
        return await backend.telemetry.query_aggregate(AggregateQuery(RangeQuery("d1", "t", **kw), fn, minute))  # type: ignore[arg-type]

    b0, b1, b3 = base, base + minute, base + 3 * minute
    assert await agg(AggFn.AVG) == [(b0, 3.0), (b1, 15.0), (b3, -5.0)]
    assert await agg(AggFn.MIN) == [(b0, 1.0), (b1, 10.0), (b3, -5.0)]
    assert await agg(AggFn.MAX) == [(b0, 6.0), (b1, 20.0), (b3, -5.0)]
    assert await agg(AggFn.SUM) == [(b0, 9.0), (b1, 30.0), (b3, -5.0)]
    # count counts every point, strings included; the numeric aggregates skip strings.
    assert await agg(AggFn.COUNT) == [(b0, 3.0), (b1, 2.0), (b3, 2.0)]
    assert await agg(AggFn.AVG, start=b1, end=b3) == [(b1, 15.0)]
    assert await agg(AggFn.MAX, descending=True, limit=2) == [(b3, -5.0), (b1, 20.0)]


async def test_booleans_aggregate_as_zero_and_one(backend: Backend) -> None:
    await with_devices(backend, "d1")
    await backend.telemetry.write_points(by_device([Point("d1", "door", T0 + i, i % 4 == 0, None) for i in range(8)]))
    [(_, mean)] = await backend.telemetry.query_aggregate(
        AggregateQuery(RangeQuery("d1", "door"), AggFn.AVG, 3_600_000)
    )
    assert mean == 0.25


async def test_equal_times_come_back_in_seq_order_whatever_the_write_order(backend: Backend) -> None:
    await with_devices(backend, "d1")
    for seq in (4, 3, 5):
        await backend.telemetry.write_points(by_device([Point("d1", "i", T0, float(seq), seq)]))
    assert [v for _, v in await backend.telemetry.query_range(RangeQuery("d1", "i"))] == [3.0, 4.0, 5.0]
    newest_first = await backend.telemetry.query_range(RangeQuery("d1", "i", descending=True, limit=2))
    assert [v for _, v in newest_first] == [5.0, 4.0]


async def test_messages_with_interleaved_sensors_land_in_each_series_whole(backend: Backend) -> None:
    await with_devices(backend, "d1", "d2")
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
    result = await backend.telemetry.write_points(messages)
    assert (result.stored, result.duplicates) == (37, 0)
    expected = [(T0 + 10 * m + i, float(10 * m + i)) for m in range(3) for i in range(6)]
    assert await backend.telemetry.query_range(RangeQuery("d1", "a")) == expected
    assert await backend.telemetry.query_range(RangeQuery("d1", "b")) == expected
    assert await backend.telemetry.query_range(RangeQuery("d2", "a")) == [(T0, -1.0)]
    assert await backend.telemetry.latest("d1") == {"a": expected[-1], "b": expected[-1]}


async def test_last_heard_is_the_newest_reading_of_a_key_or_the_last_seen(backend: Backend) -> None:
    await with_devices(backend, "d1", "d2", "d3")
    await backend.telemetry.write_points(
        by_device(
            [Point("d1", "t", T0, 1.0, None), Point("d1", "t", T0 + 500, 2.0, None), Point("d2", "h", T0, 50.0, None)],
            {"d1": T0 + 900, "d2": T0 + 100},
        )
    )
    # An older reading arriving later neither moves the key's time back nor the last seen.
    await backend.telemetry.write_points(by_device([Point("d1", "t", T0 - 5000, 0.0, None)], {"d1": T0 - 5000}))
    # Ids past the few hundred a query binds at once, unknown ones among them.
    many = [f"x{i}" for i in range(1200)] + ["d1", "d2", "d3"]
    assert await backend.telemetry.last_heard(many, "t") == {"d1": T0 + 500}
    assert await backend.telemetry.last_heard(many, "h") == {"d2": T0}
    assert await backend.telemetry.last_heard(many, None) == {"d1": T0 + 900, "d2": T0 + 100}
    assert await backend.telemetry.last_heard(["d1"], "nothing") == {}
    assert await backend.telemetry.last_heard([], None) == {}

"""The telemetry store's rollups and retention: aggregates that fit a rollup span answer as the raw points do,
raw points leave by tenant and age while rollups keep answering, and rollups leave by span and age."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

import pytest

from contracts.telemetry import Value
from hub.errors import InvalidInput
from hub.store.backend import Backend
from hub.store.telemetry import ROLLUP_SPANS, AggFn, AggregateQuery, RangeQuery
from tests.contract.support import T0, Point, by_device, with_devices

pytestmark = pytest.mark.timeout(60)

MINUTE, HOUR = ROLLUP_SPANS
BASE = T0 // HOUR * HOUR  # an hour boundary
DAY = 86_400_000


def expected(points: Sequence[Point], query: AggregateQuery) -> list[tuple[int, float]]:
    """What an aggregate must answer, computed from the stored (first written) points by hand."""
    wanted, interval = query.range, query.interval_ms
    counts: dict[int, int] = {}
    numbers: dict[int, list[float]] = {}
    for p in points:
        if (wanted.start is None or p.ts >= wanted.start) and (wanted.end is None or p.ts < wanted.end):
            bucket = p.ts // interval * interval
            counts[bucket] = counts.get(bucket, 0) + 1
            if not isinstance(p.value, str):
                numbers.setdefault(bucket, []).append(float(p.value))
    fns: dict[AggFn, Callable[[list[float]], float]] = {
        AggFn.AVG: lambda v: math.fsum(v) / len(v),
        AggFn.SUM: math.fsum,
        AggFn.MIN: min,
        AggFn.MAX: max,
    }
    if query.fn is AggFn.COUNT:
        answers = {bucket: float(n) for bucket, n in counts.items()}
    else:
        answers = {bucket: fns[query.fn](values) for bucket, values in numbers.items()}
    return sorted(answers.items(), reverse=wanted.descending)[: wanted.limit]


async def assert_answers_as_computed(backend: Backend, points: Sequence[Point], query: AggregateQuery) -> None:
    """The same buckets and values; sums may differ in the last bits (a rollup adds partial sums)."""
    got, want = await backend.telemetry.query_aggregate(query), expected(points, query)
    assert [bucket for bucket, _ in got] == [bucket for bucket, _ in want], query
    assert [value for _, value in got] == pytest.approx([value for _, value in want], rel=1e-12, abs=1e-9), query


def random_points(rng: random.Random, hours: int) -> list[Point]:
    """Readings over ``hours`` with gaps, numbers, booleans and strings; one in five unsequenced."""
    points = []
    ts = BASE - rng.randrange(HOUR)  # starts inside an hour
    for seq in range(rng.randrange(300, 600)):
        ts += rng.choice((1, 500, 7_000, 45_000, 200_000, 900_000))
        if ts >= BASE + hours * HOUR:
            break
        value: Value = rng.choice((rng.uniform(-100, 100), float(rng.randrange(50)), rng.random() < 0.5, "off"))
        points.append(Point("d1", "v", ts, value, None if rng.random() < 0.2 else seq))
    return points


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_aggregates_over_rollups_equal_the_raw_computation(backend: Backend, seed: int) -> None:
    rng = random.Random(seed)
    await with_devices(backend, "d1")
    points = random_points(rng, hours=6)
    # Written in batches out of time order, each with redeliveries of points already written and repeats within.
    shuffled = points[:]
    rng.shuffle(shuffled)
    written: list[Point] = []
    while shuffled:
        size = rng.randrange(1, 80)
        batch, shuffled = shuffled[:size], shuffled[size:]
        batch += rng.sample(written, min(len(written), 5)) + batch[:2]
        await backend.telemetry.write_points(by_device(batch))
        written += batch
    lowest, highest = points[0].ts, points[-1].ts + 1
    for _ in range(60):
        interval = rng.choice((MINUTE, 2 * MINUTE, 15 * MINUTE, HOUR, 2 * HOUR, 90_000))
        start = rng.choice((None, rng.randrange(lowest - HOUR, highest), BASE + HOUR))
        end = rng.choice((None, rng.randrange(start or lowest, highest + HOUR), BASE + 4 * HOUR))
        limit = rng.choice((1, 3, 1000))
        wanted = RangeQuery("d1", "v", start, end, limit=limit, descending=rng.random() < 0.5)
        for fn in AggFn:
            await assert_answers_as_computed(backend, points, AggregateQuery(wanted, fn, interval))


async def test_drop_raw_removes_a_tenants_old_points_and_rollups_keep_answering(backend: Backend) -> None:
    await with_devices(backend, "d1")
    await with_devices(backend, "e1", tenant="t2")
    # Two whole (epoch) days of a reading every ten minutes, written a day at a time, in both tenants.
    first_day = T0 // DAY * DAY
    days = [
        [Point("d1", "v", first_day + day * DAY + i * 600_000, float(i), None) for i in range(144)] for day in (0, 1)
    ]
    for device in ("d1", "e1"):
        for day in days:
            await backend.telemetry.write_points(by_device([p._replace(device_id=device) for p in day]))
    hourly = AggregateQuery(RangeQuery("d1", "v", limit=100), AggFn.AVG, HOUR)
    before = await backend.telemetry.query_aggregate(hourly)
    assert before == [(first_day + h * HOUR, 6 * (h % 24) + 2.5) for h in range(48)]

    cutoff = first_day + DAY  # the second day's first point
    assert await backend.telemetry.drop_raw("t1", cutoff) == 144
    remaining = await backend.telemetry.query_range(RangeQuery("d1", "v", limit=1000))
    assert [ts for ts, _ in remaining] == [p.ts for p in days[1]]
    # The other tenant keeps its points, and the first day still answers from the rollups of both spans.
    assert len(await backend.telemetry.query_range(RangeQuery("e1", "v", limit=1000))) == 288
    assert await backend.telemetry.query_aggregate(hourly) == before
    by_minute = AggregateQuery(RangeQuery("d1", "v", end=cutoff, limit=1000), AggFn.COUNT, MINUTE)
    assert len(await backend.telemetry.query_aggregate(by_minute)) == 144
    assert await backend.telemetry.drop_raw("t1", cutoff) == 0
    assert await backend.telemetry.drop_raw("nobody", cutoff) == 0


async def test_drop_raw_keeps_a_chunk_holding_a_point_at_or_after_the_cutoff(backend: Backend) -> None:
    await with_devices(backend, "d1")
    await backend.telemetry.write_points(by_device([Point("d1", "v", BASE + i * 1000, float(i), i) for i in range(5)]))
    assert await backend.telemetry.drop_raw("t1", BASE + 4000) == 0
    assert len(await backend.telemetry.query_range(RangeQuery("d1", "v"))) == 5
    assert await backend.telemetry.drop_raw("t1", BASE + 4001) == 5
    assert await backend.telemetry.query_range(RangeQuery("d1", "v")) == []


async def test_drop_rollups_by_span_and_age(backend: Backend) -> None:
    await with_devices(backend, "d1")
    points = [Point("d1", "v", BASE + i * 20 * MINUTE, float(i), i) for i in range(9)]  # three hours
    await backend.telemetry.write_points(by_device(points))
    await backend.telemetry.drop_raw("t1", BASE + 3 * HOUR)
    assert await backend.telemetry.drop_rollups(MINUTE, BASE + HOUR) == 3
    assert await backend.telemetry.drop_rollups(MINUTE, BASE + HOUR) == 0
    by_minute = AggregateQuery(RangeQuery("d1", "v"), AggFn.COUNT, MINUTE)
    assert [ts for ts, _ in await backend.telemetry.query_aggregate(by_minute)] == [p.ts for p in points[3:]]
    # The hourly rollups are a span of their own: all three hours still answer.
    hourly = AggregateQuery(RangeQuery("d1", "v"), AggFn.SUM, HOUR)
    assert await backend.telemetry.query_aggregate(hourly) == [
        (BASE, 3.0),
        (BASE + HOUR, 12.0),
        (BASE + 2 * HOUR, 21.0),
    ]
    assert await backend.telemetry.drop_rollups(HOUR, BASE + 2 * HOUR) == 2
    assert await backend.telemetry.query_aggregate(hourly) == [(BASE + 2 * HOUR, 21.0)]
    with pytest.raises(InvalidInput):
        await backend.telemetry.drop_rollups(1000, BASE)


async def test_deleting_a_device_removes_its_rollups(backend: Backend) -> None:
    await with_devices(backend, "d1")
    await backend.telemetry.write_points(by_device([Point("d1", "v", BASE + i, 1.0, i) for i in range(3)]))
    await backend.registry.delete_device("d1")
    await with_devices(backend, "d1")  # the same id again starts without history
    await backend.telemetry.write_points(by_device([Point("d1", "v", BASE + 10, 5.0, 1)]))
    hourly = AggregateQuery(RangeQuery("d1", "v"), AggFn.COUNT, HOUR)
    assert await backend.telemetry.query_aggregate(hourly) == [(BASE, 1.0)]

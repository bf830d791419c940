"""Rollup summaries, the plan that splits an aggregate between rollups and raw points, and bucket aggregation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.store.rollups import Buckets, Plan, plan, summarize
from hub.store.telemetry import AggFn, Summary

pytestmark = pytest.mark.timeout(60)
MINUTE, HOUR = 60_000, 3_600_000
points = st.lists(st.tuples(st.integers(0, 5 * HOUR), st.one_of(st.floats(-1e6, 1e6), st.just(math.nan))), max_size=60)


@given(points)
def test_summaries_hold_every_point_once_by_span(drawn: list[tuple[int, float]]) -> None:
    stamps, numbers = [ts for ts, _ in drawn], [x for _, x in drawn]
    summaries = summarize(stamps, numbers, MINUTE)
    assert [start for start, _ in summaries] == sorted({ts // MINUTE * MINUTE for ts in stamps})
    for start, summary in summaries:
        inside = [x for ts, x in drawn if start <= ts < start + MINUTE]
        kept = [x for x in inside if not math.isnan(x)]
        assert (summary.n, summary.nums) == (len(inside), len(kept))
        assert summary.sum == pytest.approx(math.fsum(kept), abs=1e-6)
        assert (summary.min, summary.max) == ((min(kept), max(kept)) if kept else (None, None))


def test_the_plan_takes_whole_spans_of_the_largest_span_that_fits() -> None:
    assert plan(None, None, 2 * HOUR) == Plan(HOUR, None, None)
    assert plan(None, None, 30 * MINUTE) == Plan(MINUTE, None, None)
    assert plan(HOUR + 1, 5 * HOUR - 1, HOUR) == Plan(HOUR, 2 * HOUR, 4 * HOUR)
    assert plan(HOUR + 1, 2 * HOUR + 1, HOUR) is None  # no whole hour inside
    assert plan(0, HOUR, 90_000) is None  # not a multiple of a minute
    assert plan(0, HOUR, 1000) is None


def test_buckets_add_points_and_summaries_into_one_answer() -> None:
    buckets = Buckets(HOUR)
    buckets.add_points([10, 20, HOUR + 5], [1.0, math.nan, 3.0])
    buckets.add_summary(MINUTE, Summary(4, 2, 10.0, -1.0, 11.0))
    buckets.add_summary(2 * HOUR, Summary(2, 0, 0.0, None, None))  # strings only
    assert buckets.result(AggFn.COUNT, descending=False, limit=10) == [(0, 6.0), (HOUR, 1.0), (2 * HOUR, 2.0)]
    assert buckets.result(AggFn.AVG, descending=False, limit=10) == [(0, 11.0 / 3), (HOUR, 3.0)]
    assert buckets.result(AggFn.MIN, descending=True, limit=1) == [(HOUR, 3.0)]
    assert buckets.result(AggFn.MAX, descending=False, limit=10) == [(0, 11.0), (HOUR, 3.0)]
    assert buckets.result(AggFn.SUM, descending=False, limit=10) == [(0, 11.0), (HOUR, 3.0)]

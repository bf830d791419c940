"""Rollups: a summary per series and span of :data:`~hub.store.telemetry.ROLLUP_SPANS`, and bucket aggregation.

A rollup holds, for the points of one series in one span (aligned to the epoch), how many there are, how many
are numeric (booleans count as 0/1) and the sum, minimum and maximum of the numeric ones. Stores keep rollups
as points are stored and answer an aggregate over whole spans from them: a one-year hourly average reads 8,760
rows instead of every point. Both the raw and the rolled-up path add into :class:`Buckets`, so they give the same
answers (sums may differ in the last bits: the rollup adds partial sums). Pure logic, shared by the backends.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hub.store.telemetry import ROLLUP_SPANS, AggFn, Summary


def summarize(stamps: Sequence[int], numbers: Sequence[float], span: int) -> list[tuple[int, Summary]]:
    """The summary of each ``span`` the points fall in, as ``(span_start, summary)`` in time order.

    ``numbers`` holds each point's number, NaN for a value that is not one (a string). Ingest's writes mostly fall
    in one span (checked in C, in any order); points in time order are otherwise summed a span at a time in C.
    """
    if len(stamps) <= 1:  # a slow series' write, or none
        return [(stamps[0] // span * span, _single(numbers[0]))] if stamps else []
    first = min(stamps) // span * span
    if max(stamps) < first + span:
        return [(first, _summary(numbers))]
    if list(stamps) != sorted(stamps):
        order = sorted(range(len(stamps)), key=stamps.__getitem__)
        stamps = [stamps[i] for i in order]
        numbers = [numbers[i] for i in order]
    summaries = []
    at = 0
    while at < len(stamps):
        start = stamps[at] // span * span
        stop = bisect_left(stamps, start + span, at)
        summaries.append((start, _summary(numbers[at:stop])))
        at = stop
    return summaries


def summarize_spans(
    stamps: Sequence[int], numbers: Sequence[float], spans: Sequence[int] = ROLLUP_SPANS
) -> list[tuple[int, int, Summary]]:
    """``(span, span_start, summary)`` for each of ``spans`` (ascending, each a multiple of the one before) that
    the points fall in: the points are summed once, for the smallest span, and the larger spans from those sums."""
    smallest = summarize(stamps, numbers, spans[0])
    rows = [(spans[0], start, summary) for start, summary in smallest]
    for span in spans[1:]:
        merged: dict[int, Summary] = {}
        for start, summary in smallest:
            outer = start // span * span
            mine = merged.get(outer)
            merged[outer] = summary if mine is None else Summary(*_combined(mine, summary))
        rows.extend((span, start, summary) for start, summary in merged.items())
    return rows


def _single(number: float) -> Summary:
    return Summary(1, 0, 0.0, None, None) if math.isnan(number) else Summary(1, 1, number, number, number)


def _summary(numbers: Sequence[float]) -> Summary:
    total = math.fsum(numbers)
    if math.isnan(total):  # a string among them (NaN): sum only the numbers
        kept = [x for x in numbers if not math.isnan(x)]
        if not kept:
            return Summary(len(numbers), 0, 0.0, None, None)
        return Summary(len(numbers), len(kept), math.fsum(kept), min(kept), max(kept))
    return Summary(len(numbers), len(numbers), total, min(numbers), max(numbers))


@dataclass(frozen=True, slots=True)
class Plan:
    """How to answer an aggregate: whole spans of ``span`` in ``[first, last)`` from rollups (``None``: unbounded
    on that side), the partial spans at the edges, ``[start, first)`` and ``[last, end)``, from raw points."""

    span: int
    first: int | None
    last: int | None


def plan(start: int | None, end: int | None, interval_ms: int, spans: Sequence[int] = ROLLUP_SPANS) -> Plan | None:
    """The rollup plan for an aggregate over ``[start, end)``; ``None`` when no span fits: the interval is not a
    multiple of one, or the range holds no whole span."""
    span = max((s for s in spans if interval_ms % s == 0), default=None)
    if span is None:
        return None
    first = None if start is None else -(-start // span) * span
    last = None if end is None else end // span * span
    if first is not None and last is not None and first >= last:
        return None
    return Plan(span, first, last)


#: A bucket's figures: n, nums, sum, min, max (min and max ``None`` without a number), as a rollup row holds them.
Figures = tuple[int, int, float, float | None, float | None]


class Buckets:
    """Epoch-aligned buckets of ``interval_ms``, filled from raw points and rollups alike.

    A year of hourly buckets is thousands of them: each is a plain tuple, and a store that groups its rollups by
    bucket itself hands them over whole (:meth:`add_figures`), so an answer from rollups costs little more than
    building its result.
    """

    def __init__(self, interval_ms: int) -> None:
        self._interval = interval_ms
        self._figures: dict[int, Figures] = {}

    def add_points(self, stamps: Sequence[int], numbers: Sequence[float]) -> None:
        """Raw points, ``numbers`` as for :func:`summarize`."""
        for start, summary in summarize(stamps, numbers, self._interval):
            self.add_summary(start, summary)

    def add_summary(self, span_start: int, summary: Summary) -> None:
        """A summary of points in one bucket, such as a rollup (the interval is a multiple of its span)."""
        start = span_start // self._interval * self._interval
        self.add_figures([(start, *summary)])

    def add_figures(self, rows: Iterable[tuple[int, int, int, float, float | None, float | None]]) -> None:
        """Figures of buckets, ``(bucket_start, n, nums, sum, min, max)``, each start a bucket's."""
        figures = self._figures
        for start, n, nums, total, low, high in rows:
            row = (n, nums, total, low, high)
            mine = figures.get(start)
            figures[start] = row if mine is None else _combined(mine, row)

    def result(self, fn: AggFn, *, descending: bool, limit: int) -> list[tuple[int, float]]:
        """``(bucket_start, aggregate)`` in time order, at most ``limit``; a bucket without numbers is absent
        but from ``count``."""
        figures = self._figures
        starts = sorted(figures, reverse=descending)
        if fn is AggFn.COUNT:
            return [(start, float(figures[start][0])) for start in starts[:limit]]
        numeric = [(start, row) for start in starts if (row := figures[start])[1]][:limit]
        if fn is AggFn.AVG:
            return [(start, row[2] / row[1]) for start, row in numeric]
        at = {AggFn.SUM: 2, AggFn.MIN: 3, AggFn.MAX: 4}[fn]
        # A bucket with numbers has a min and a max: never None here.
        return [(start, row[at]) for start, row in numeric]  # type: ignore[misc]


def _combined(a: Figures, b: Figures) -> Figures:
    lows = [x for x in (a[3], b[3]) if x is not None]
    highs = [x for x in (a[4], b[4]) if x is not None]
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], min(lows, default=None), max(highs, default=None))

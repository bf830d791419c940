"""The chunk helpers both stores share: dropping stored points, splitting, grouping and scanning chunks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.telemetry import Reading, ReadingColumns
from hub.store import columns
from hub.store.columns import Columns, RangeScan, SmallChunks

pytestmark = pytest.mark.timeout(60)

T0 = 1_763_464_000_000


def _chunk(points: list[tuple[int, int]]) -> Columns:
    """A chunk of ``(ts, ident)`` points whose value is the ident."""
    chunk = Columns()
    for ts, ident in points:
        chunk.append(ts, ident, float(ident))
    return chunk


def test_without_drops_stored_and_repeated_idents_keeping_the_first() -> None:
    chunk = _chunk([(T0, 1), (T0 + 1, 2), (T0 + 2, 1), (T0 + 3, 3)])
    kept = chunk.without({3})
    assert list(kept.idents) == [1, 2] and list(kept.ts) == [T0, T0 + 1]
    unique = _chunk([(T0, 1)])
    assert unique.without({2}) is unique


def test_parts_split_at_the_chunk_limit() -> None:
    chunk = _chunk([(T0 + i, i) for i in range(columns.MAX_POINTS * 2 + 1)])
    parts = list(chunk.parts())
    assert [len(p) for p in parts] == [columns.MAX_POINTS, columns.MAX_POINTS, 1]
    assert list(Columns.concat(parts).idents) == list(chunk.idents)


def test_by_key_keeps_each_sensors_arrival_order() -> None:
    readings = ReadingColumns.of([Reading("b", T0, 1.0, 1), Reading("a", T0, 2.0, 2), Reading("b", T0 - 5, 3.0, 3)])
    grouped = {key: list(part) for key, part in columns.by_key(readings)}
    assert grouped == {"a": [Reading("a", T0, 2.0, 2)], "b": [Reading("b", T0, 1.0, 1), Reading("b", T0 - 5, 3.0, 3)]}


def test_small_chunks_fall_due_after_enough_small_writes() -> None:
    policy: SmallChunks[str] = SmallChunks(every=2)
    policy.note("s", 1)
    policy.note("big", SmallChunks.SMALL)
    assert not policy.due()
    policy.note("s", 1)
    assert policy.due() and policy.take_due() == ["s"] and not policy.due()


chunks_of_points = st.lists(
    st.lists(st.tuples(st.integers(0, 50), st.integers(0, 30)), min_size=1, max_size=8), min_size=1, max_size=6
)


@pytest.mark.parametrize("descending", [False, True])
@given(chunks=chunks_of_points, limit=st.integers(1, 10), start=st.integers(0, 25))
def test_a_scan_that_stops_early_answers_as_a_full_one(
    chunks: list[list[tuple[int, int]]], limit: int, start: int, descending: bool
) -> None:
    built = [_chunk([(T0 + ts, ident) for ts, ident in points]) for points in chunks]
    # Chunks come in start order, or in end order for descending scans, as the stores read them.
    ordered = sorted(built, key=lambda c: -max(c.ts) if descending else min(c.ts))
    early = RangeScan(T0 + start, None, descending=descending, enough=limit)
    for chunk in ordered:
        if early.complete(min(chunk.ts), max(chunk.ts)):
            break
        early.add(chunk)
    full = RangeScan(T0 + start, None, descending=descending, enough=None)
    for chunk in ordered:
        full.add(chunk)
    # Each ident once: the one a chunk read first holds, whichever that is; compare times and idents' count.
    assert [ts for ts, _ in early.points(limit)] == [ts for ts, _ in full.points(limit)]

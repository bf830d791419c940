"""The chunk codec both stores share: every value comes back as it went in, whole or sliced."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.telemetry import Reading, ReadingColumns, Value
from hub.store import columns as chunks

values = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.text(max_size=20))


def _chunk(points: list[Value]) -> chunks.Columns:
    columns = chunks.Columns()
    for i, value in enumerate(points):
        columns.append(1_763_464_000_000 + i, i, value)
    return columns


def _values(columns: chunks.Columns) -> list[Value]:
    texts = columns.text_positions()
    return [columns.value(i, texts) for i in range(len(columns))]


@given(st.lists(values, max_size=60), st.data())
def test_round_trip_and_slices_keep_every_value(points: list[Value], data: st.DataObject) -> None:
    columns = _chunk(points)
    decoded = chunks.decode(chunks.encode(columns))
    assert _values(decoded) == points
    assert list(decoded.ts) == list(columns.ts) and list(decoded.idents) == list(range(len(points)))
    start = data.draw(st.integers(0, len(points)))
    stop = data.draw(st.integers(start, len(points)))
    assert _values(chunks.decode(chunks.encode(columns.slice(start, stop)))) == points[start:stop]
    keep = data.draw(st.lists(st.integers(0, max(0, len(points) - 1)), unique=True)) if points else []
    assert _values(columns.select(keep)) == [points[i] for i in keep]


def test_unsequenced_idents_rise_with_time_and_never_meet_a_seq() -> None:
    assert chunks.ident(None, 2_000) > chunks.ident(None, 1_000)
    assert chunks.ident(None, 2**62 - 1) < 0 <= chunks.ident(0, 5)


def test_an_unknown_chunk_version_is_refused() -> None:
    blob = bytearray(chunks.encode(_chunk([1.0])))
    blob[0] = 99
    with pytest.raises(ValueError, match="unknown version 99"):
        chunks.decode(bytes(blob))


@given(st.lists(st.tuples(values, st.one_of(st.none(), st.integers(0, 2**40))), max_size=40))
def test_a_chunk_of_readings_matches_one_built_point_by_point(points: list[tuple[Value, int | None]]) -> None:
    readings = [Reading("k", 1_763_464_000_000 + i, value, seq) for i, (value, seq) in enumerate(points)]
    bulk = chunks.Columns.of(ReadingColumns.of(readings))
    single = chunks.Columns()
    for r in readings:
        single.append(r.ts, chunks.ident(r.seq, r.ts), r.value)
    assert chunks.encode(bulk) == chunks.encode(single)

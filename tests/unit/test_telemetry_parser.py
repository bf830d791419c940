"""The hot-path telemetry parser, checked against the pydantic contract and for every refusal."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.errors import RejectReason
from contracts.telemetry import (
    MAX_SEQ,
    MAX_STRING_VALUE,
    MIN_TS_MS,
    Arrivals,
    Limits,
    PayloadRejected,
    Reading,
    ReadingColumns,
    TelemetryMessage,
    device_seq,
    from_epoch_ms,
    parse_rfc3339_ms,
    parse_telemetry,
    to_rfc3339,
)

NOW = 1_795_000_000_000  # 2026-11-19, fixed so that examples are reproducible
LIMITS = Limits()
ARRIVALS = Arrivals(lane=3)

keys = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.:-]{0,20}\Z")
values = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=MAX_STRING_VALUE),
)
epoch_ms = st.integers(min_value=MIN_TS_MS, max_value=NOW + LIMITS.max_future_ms)
stamps = st.one_of(
    st.none(),
    epoch_ms,
    # RFC 3339 with a zone, at millisecond precision, in any offset.
    st.tuples(epoch_ms, st.integers(min_value=-14 * 60, max_value=14 * 60)).map(
        lambda pair: (
            from_epoch_ms(pair[0]).astimezone(timezone(timedelta(minutes=pair[1]))).isoformat(timespec="milliseconds")
        )
    ),
)
objects = st.fixed_dictionaries(
    {"values": st.dictionaries(keys, values, min_size=1, max_size=8)},
    optional={"ts": stamps, "seq": st.integers(min_value=0, max_value=MAX_SEQ)},
)
messages = st.one_of(objects, st.lists(objects, min_size=1, max_size=5))


def _expected(doc: dict[str, Any]) -> list[Reading]:
    raw_ts = doc.get("ts")
    ts = NOW if raw_ts is None else raw_ts if isinstance(raw_ts, int) else parse_rfc3339_ms(raw_ts)
    return [
        Reading(key, ts, float(v) if isinstance(v, int) and not isinstance(v, bool) else v, doc.get("seq"))
        for key, v in doc["values"].items()
    ]


@given(messages)
def test_valid_messages_give_exactly_their_readings_and_match_the_model(message: Any) -> None:
    readings = parse_telemetry(orjson.dumps(message), NOW, LIMITS, ARRIVALS)
    docs = message if isinstance(message, list) else [message]
    # Readings the hub stamped carry an arrival number where the device gave no seq.
    assert [r._replace(seq=device_seq(r.seq)) for r in readings] == [r for doc in docs for r in _expected(doc)]
    stamped_by_hub = [doc.get("ts") is None and doc.get("seq") is None for doc in docs for _ in doc["values"]]
    assert [r.seq is not None and r.seq < 0 for r in readings] == stamped_by_hub
    for doc in docs:
        TelemetryMessage.model_validate_json(orjson.dumps(doc))


numbers = st.one_of(st.integers(min_value=-(2**53), max_value=2**53), st.floats(allow_nan=False, allow_infinity=False))
# Batches as agents send them: every object stamped, all with a seq or none, numbers only.
batches = st.tuples(
    st.booleans(),
    st.lists(
        st.tuples(
            epoch_ms,
            st.integers(min_value=0, max_value=MAX_SEQ),
            st.dictionaries(keys, numbers, min_size=1, max_size=3),
        ),
        min_size=2,
        max_size=60,
    ),
).map(lambda spec: [{"ts": ts, "values": v, **({"seq": seq} if spec[0] else {})} for ts, seq, v in spec[1]])


@given(batches)
def test_batches_give_the_same_readings_on_first_sight_and_after(batch: list[dict[str, Any]]) -> None:
    # The first message with new sensor names goes object by object; later ones column by column.
    payload = orjson.dumps(batch)
    expected = [r for doc in batch for r in _expected(doc)]
    assert parse_telemetry(payload, NOW, LIMITS, ARRIVALS) == expected
    again = parse_telemetry(payload, NOW, LIMITS, ARRIVALS)
    assert again == expected
    assert all(type(r.value) is float for r in again)


def _batch(n: int, **changes: Any) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [{"ts": NOW - 1000 + i, "values": {"t": float(i)}, "seq": i} for i in range(n)]
    docs[n // 2] = {**docs[n // 2], **changes}
    return docs


@pytest.mark.parametrize(
    ("changes", "reason", "detail"),
    [
        ({"extra": 1}, RejectReason.SCHEMA, "unknown field(s): extra"),
        ({"seq": -1}, RejectReason.SCHEMA, "seq must be"),
        ({"seq": True}, RejectReason.SCHEMA, "seq must be"),
        ({"ts": True}, RejectReason.SCHEMA, "ts must be"),
        ({"ts": 0}, RejectReason.TS_OUT_OF_RANGE, "before 2000"),
        ({"ts": NOW + LIMITS.max_future_ms + 1}, RejectReason.TS_IN_FUTURE, "ahead of hub time"),
        ({"values": {}}, RejectReason.SCHEMA, "non-empty object"),
        ({"values": [1]}, RejectReason.SCHEMA, "non-empty object"),
        ({"values": {"t": None}}, RejectReason.SCHEMA, "must be a number"),
        ({"values": {"t/x": 1}}, RejectReason.SCHEMA, "invalid sensor name"),
    ],
)
def test_one_bad_object_in_a_long_batch_refuses_it_with_its_reason(
    changes: dict[str, Any], reason: RejectReason, detail: str
) -> None:
    parse_telemetry(orjson.dumps(_batch(50)), NOW, LIMITS, ARRIVALS)  # the sensor name is known: the column path runs
    refused = _refusal(_batch(50, **changes))
    assert refused.reason is reason
    assert detail in refused.detail


def test_batches_keep_strings_booleans_unsequenced_and_rfc3339_objects() -> None:
    batch = _batch(10)
    batch[3] = {"ts": "2026-11-18T00:00:00Z", "values": {"t": 1}, "seq": 3}
    batch[4] = {"values": {"t": True, "s": "on"}, "seq": 4}
    batch[5] = {"ts": NOW, "values": {"t": 2}}
    readings = parse_telemetry(orjson.dumps(batch), NOW, LIMITS, ARRIVALS)
    assert readings == [r for doc in batch for r in _expected(doc)]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
near_miss = st.fixed_dictionaries({"values": json_values}, optional={"ts": json_values, "seq": json_values})


@given(st.one_of(json_values, near_miss, st.lists(near_miss, max_size=3)))
def test_any_json_is_parsed_or_refused_with_a_reason_and_accepted_means_valid(doc: Any) -> None:
    # The standard library writes NaN and infinities as JSON extensions the parser must refuse.
    payload = json.dumps(doc).encode()
    try:
        readings = parse_telemetry(payload, NOW, LIMITS, ARRIVALS)
    except PayloadRejected as exc:
        assert exc.reason in RejectReason
        return
    assert readings
    for item in doc if isinstance(doc, list) else [doc]:
        TelemetryMessage.model_validate_json(orjson.dumps(item))


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_escape_as_another_exception(payload: bytes) -> None:
    try:
        parse_telemetry(payload, NOW, LIMITS, ARRIVALS)
    except PayloadRejected as exc:
        assert str(exc).startswith(exc.reason.value)


@given(epoch_ms)
def test_rfc3339_round_trip(ts: int) -> None:
    text = to_rfc3339(ts)
    assert text.endswith("Z")
    assert parse_rfc3339_ms(text) == ts


def _refusal(payload: bytes | Any, limits: Limits = LIMITS) -> PayloadRejected:
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    with pytest.raises(PayloadRejected) as info:
        parse_telemetry(raw, NOW, limits, ARRIVALS)
    return info.value


@pytest.mark.parametrize(
    ("payload", "reason", "detail"),
    [
        (b"{not json", RejectReason.MALFORMED_JSON, ""),
        (b"", RejectReason.MALFORMED_JSON, ""),
        (b'{"values": {"t": NaN}}', RejectReason.MALFORMED_JSON, ""),
        ([], RejectReason.SCHEMA, "empty list"),
        (42, RejectReason.SCHEMA, "object with 'values'"),
        ({"values": {}}, RejectReason.SCHEMA, "non-empty object"),
        ({"values": [1, 2]}, RejectReason.SCHEMA, "non-empty object"),
        ({"values": {"t": 1}, "extra": 1}, RejectReason.SCHEMA, "unknown field(s): extra"),
        ({"values": {"t/x": 1}}, RejectReason.SCHEMA, "invalid sensor name"),
        ({"values": {"+": 1}}, RejectReason.SCHEMA, "invalid sensor name"),
        ({"values": {"t": None}}, RejectReason.SCHEMA, "must be a number"),
        ({"values": {"t": {"nested": 1}}}, RejectReason.SCHEMA, "must be a number"),
        ({"values": {"t": "x" * (MAX_STRING_VALUE + 1)}}, RejectReason.SCHEMA, "longer than"),
        ({"values": {"t": 1}, "seq": -1}, RejectReason.SCHEMA, "seq must be"),
        ({"values": {"t": 1}, "seq": True}, RejectReason.SCHEMA, "seq must be"),
        ({"values": {"t": 1}, "seq": "7"}, RejectReason.SCHEMA, "seq must be"),
        ({"values": {"t": 1}, "ts": True}, RejectReason.SCHEMA, "ts must be"),
        ({"values": {"t": 1}, "ts": 1.5e12}, RejectReason.SCHEMA, "ts must be"),
        ({"values": {"t": 1}, "ts": "yesterday"}, RejectReason.SCHEMA, "not RFC 3339"),
        ({"values": {"t": 1}, "ts": "2026-11-22T10:00:00"}, RejectReason.SCHEMA, "no time zone"),
        ({"values": {"t": 1}, "ts": 1_795_000_000}, RejectReason.TS_OUT_OF_RANGE, "looks like seconds"),
        ({"values": {"t": 1}, "ts": 0}, RejectReason.TS_OUT_OF_RANGE, "before 2000"),
        ({"values": {"t": 1}, "ts": NOW + LIMITS.max_future_ms + 1}, RejectReason.TS_IN_FUTURE, "ahead of hub time"),
        ([{"values": {"t": 1}}, {"values": {}}], RejectReason.SCHEMA, "non-empty object"),
    ],
)
def test_each_refusal_names_its_reason(payload: Any, reason: RejectReason, detail: str) -> None:
    refused = _refusal(payload)
    assert refused.reason is reason
    assert detail in refused.detail


def test_size_and_count_limits() -> None:
    limits = Limits(max_payload_bytes=100, max_values=3)
    assert _refusal(b" " * 101, limits).reason is RejectReason.PAYLOAD_TOO_LARGE
    four = {"values": {"a": 1, "b": 2, "c": 3, "d": 4}}
    assert _refusal(four, limits).reason is RejectReason.TOO_MANY_VALUES
    # The count spans every object of a list.
    two_and_two = [{"values": {"a": 1, "b": 2}}, {"values": {"c": 3, "d": 4}}]
    assert _refusal(two_and_two, limits).reason is RejectReason.TOO_MANY_VALUES
    assert len(parse_telemetry(orjson.dumps({"values": {"a": 1, "b": 2, "c": 3}}), NOW, limits, ARRIVALS)) == 3


def test_model_refuses_what_the_parser_refuses_for_shape() -> None:
    for bad in ({"values": {}}, {"values": {"t": 1}, "seq": -1}, {"values": {"t": 1}, "nope": 1}):
        with pytest.raises(ValidationError):
            TelemetryMessage.model_validate_json(orjson.dumps(bad))


def test_reading_columns_behave_as_the_list_of_their_readings() -> None:
    readings = [Reading("a", 1, 1.0, 7), Reading("b", 2, "on", None), Reading("a", 3, True, 9)]
    columns = ReadingColumns.of(readings)
    assert columns == readings and list(columns) == readings and len(columns) == 3
    assert columns[1] == Reading("b", 2, "on", None) and columns[-1].seq == 9
    assert columns[1:] == readings[1:]
    assert columns.pick([2, 0]) == [readings[2], readings[0]]
    assert ReadingColumns.joined([columns, columns[:1]]) == [*readings, readings[0]]
    assert ReadingColumns.of(columns) is columns
    assert ReadingColumns.of([]) == [] and columns != readings[:2]


def test_readings_the_hub_stamps_get_distinct_rising_arrival_numbers() -> None:
    arrivals = Arrivals(lane=7)
    # A device without a clock flushing its buffer: a thousand messages within the same millisecond.
    burst = [parse_telemetry(orjson.dumps({"values": {"n": i}}), NOW, LIMITS, arrivals)[0] for i in range(1000)]
    assert {r.ts for r in burst} == {NOW}
    seqs = [r.seq for r in burst]
    assert all(seq is not None and seq < 0 for seq in seqs)
    assert seqs == sorted(seqs) and len(set(seqs)) == 1000
    # Objects of one message each get their own; the sensors of one object share theirs.
    two = parse_telemetry(orjson.dumps([{"values": {"a": 1, "b": 2}}, {"values": {"a": 3}}]), NOW, LIMITS, arrivals)
    assert two[0].seq == two[1].seq != two[2].seq
    # A device's own stamp or seq is never replaced.
    assert parse_telemetry(orjson.dumps({"ts": NOW, "values": {"a": 1}}), NOW, LIMITS, arrivals)[0].seq is None
    assert parse_telemetry(orjson.dumps({"values": {"a": 1}, "seq": 5}), NOW, LIMITS, arrivals)[0].seq == 5
    assert device_seq(seqs[0]) is None and device_seq(5) == 5


def test_arrival_numbers_of_two_processes_never_meet_and_stay_below_device_stamps() -> None:
    first, second = Arrivals(lane=0), Arrivals(lane=1)
    numbers = [first() for _ in range(2000)] + [second() for _ in range(2000)]
    assert len(set(numbers)) == 4000
    # The store identifies an unsequenced reading a device stamped by ts - 2**62: never an arrival number.
    assert max(numbers) < MIN_TS_MS - 2**62
    with pytest.raises(ValueError, match="lane"):
        Arrivals(lane=Arrivals.LANES)

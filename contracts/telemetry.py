"""Telemetry payload: the model (for schemas and docs) and the fast parser ingest uses.

A message is one object or a list of objects::

    {"ts": 1732270000123 | "2026-11-22T10:00:00Z", "values": {"temp": 21.5}, "seq": 42}

The parser is hand-written because it runs once per message on the hot path; the
pydantic model below describes the same contract and a property test keeps the two
in agreement.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain, repeat
from typing import Annotated, Any, NamedTuple, overload

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.errors import ErrorCode, FieldhubError, RejectReason

SENSOR_KEY_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$"
_KEY_RE = re.compile(SENSOR_KEY_PATTERN)
MAX_STRING_VALUE = 256
MAX_SEQ = 2**63 - 1
#: Readings stamped before this instant are refused: a clock that was never set.
MIN_TS_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
#: The last instant RFC 3339 (four-digit years) can write; the end of the range a query may name.
MAX_TS_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z

Value = bool | float | str
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
SensorKey = Annotated[str, StringConstraints(pattern=SENSOR_KEY_PATTERN)]


class TelemetryMessage(BaseModel):
    """One telemetry object as a device sends it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    ts: int | datetime | None = Field(
        default=None,
        description="Epoch milliseconds or RFC 3339 with a zone; hub receive time when absent.",
    )
    values: dict[SensorKey, bool | int | float | Annotated[str, StringConstraints(max_length=256)]] = Field(
        min_length=1, description="Sensor name -> number, boolean or short string."
    )
    seq: int | None = Field(
        default=None, ge=0, le=MAX_SEQ, description="Per-sensor sequence number; lets the hub drop duplicates."
    )


class Reading(NamedTuple):
    """One accepted data point of one sensor.

    ``seq`` is the device's sequence number (``>= 0``), ``None`` for a reading the device stamped
    without one, or, for a reading the hub stamped (no ``ts``, no ``seq``), a negative arrival
    number from :class:`Arrivals` that keeps it apart from every other reading of its sensor.
    """

    key: str
    ts: int
    value: Value
    seq: int | None


class Arrivals:
    """Arrival numbers for readings the hub stamps, so that it never takes two of them for one.

    A device without a clock flushes its buffer in a burst after a reconnect, and the hub stamps
    many of its readings with the same millisecond. Time cannot identify those readings (a
    redelivered message is stamped anew), so each gets a number of its own: negative (never a
    device's ``seq``), strictly increasing within a process (equal stamps keep their arrival
    order), and in a lane of its own per process (``lane`` in ``[0, LANES)``), so two ingest
    replicas never hand out the same number. Numbers are microseconds since the epoch times
    :data:`LANES` plus the lane, offset to start at ``-2**63``: below the ``ts``-based idents the
    store gives unsequenced readings a device stamped.
    """

    LANES = 1024
    _BASE = -(2**63)

    def __init__(self, lane: int) -> None:
        if not 0 <= lane < self.LANES:
            raise ValueError(f"lane must be in [0, {self.LANES})")
        self._lane = lane
        self._last = self._BASE

    def __call__(self) -> int:
        number = self._BASE + time.time_ns() // 1000 * self.LANES + self._lane
        # A clock that stood still or stepped back must not repeat a number.
        if number <= self._last:
            number = self._last + self.LANES
        self._last = number
        return number


def device_seq(seq: int | None) -> int | None:
    """The device's own sequence number of a reading: ``None`` for an arrival number (see :class:`Arrivals`)."""
    return None if seq is None or seq < 0 else seq


#: ``Reading(...)`` runs a Python-level ``__new__``; the tuple constructor builds the same object in C.
_new_reading = tuple.__new__


class ReadingColumns(Sequence[Reading]):
    """Readings held column by column: a list each of keys, stamps, values and seqs.

    Ingest keeps every message in flight until it is stored. As tuples, a message of a hundred
    readings is a hundred objects the garbage collector walks on every pass; as columns it is
    four lists of atoms. Indexing and iteration build each :class:`Reading` on demand.
    """

    __slots__ = ("keys", "seqs", "stamps", "values")

    def __init__(self, keys: list[str], stamps: list[int], values: list[Value], seqs: list[int | None]) -> None:
        self.keys = keys
        self.stamps = stamps
        self.values = values
        self.seqs = seqs

    @classmethod
    def of(cls, readings: Sequence[Reading]) -> ReadingColumns:
        """``readings`` as columns (itself when it already is)."""
        if isinstance(readings, ReadingColumns):
            return readings
        if not readings:
            return cls([], [], [], [])
        keys, stamps, values, seqs = map(list, zip(*readings, strict=True))
        return cls(keys, stamps, values, seqs)

    @classmethod
    def joined(cls, parts: Iterable[ReadingColumns]) -> ReadingColumns:
        """The readings of ``parts``, one after the other."""
        parts = list(parts)
        if len(parts) == 1:
            return parts[0]
        return cls(
            list(chain.from_iterable(p.keys for p in parts)),
            list(chain.from_iterable(p.stamps for p in parts)),
            list(chain.from_iterable(p.values for p in parts)),
            list(chain.from_iterable(p.seqs for p in parts)),
        )

    def pick(self, indices: list[int]) -> ReadingColumns:
        """The readings at ``indices``, in that order."""
        return ReadingColumns(
            list(map(self.keys.__getitem__, indices)),
            list(map(self.stamps.__getitem__, indices)),
            list(map(self.values.__getitem__, indices)),
            list(map(self.seqs.__getitem__, indices)),
        )

    def __len__(self) -> int:
        return len(self.keys)

    @overload
    def __getitem__(self, index: int) -> Reading: ...
    @overload
    def __getitem__(self, index: slice) -> ReadingColumns: ...
    def __getitem__(self, index: int | slice) -> Reading | ReadingColumns:
        if isinstance(index, slice):
            return ReadingColumns(self.keys[index], self.stamps[index], self.values[index], self.seqs[index])
        return _new_reading(Reading, (self.keys[index], self.stamps[index], self.values[index], self.seqs[index]))

    def __iter__(self) -> Iterator[Reading]:
        return map(_new_reading, repeat(Reading), zip(self.keys, self.stamps, self.values, self.seqs, strict=True))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and len(self) == len(other) and all(map(tuple.__eq__, self, other))

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"ReadingColumns({list(self)!r})"


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one message may carry."""

    max_payload_bytes: int = 256 * 1024
    max_values: int = 1000
    max_future_ms: int = 10 * 60 * 1000


class PayloadRejected(FieldhubError, ValueError):
    """A message refused by the parser, with a counted reason and a human detail."""

    code = ErrorCode.INVALID_REQUEST

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}", reason=reason.value)
        self.reason: RejectReason = reason
        self.detail = detail


def parse_ts(raw: object, now_ms: int, limits: Limits) -> int:
    """Turn a payload ``ts`` into epoch milliseconds, or raise :class:`PayloadRejected`."""
    if raw is None:
        return now_ms
    if isinstance(raw, bool):
        raise PayloadRejected(RejectReason.SCHEMA, "ts must be epoch milliseconds or an RFC 3339 string")
    if isinstance(raw, int):
        ts = raw
    elif isinstance(raw, str):
        ts = parse_rfc3339_ms(raw)
    else:
        raise PayloadRejected(RejectReason.SCHEMA, "ts must be integer epoch milliseconds or an RFC 3339 string")
    if ts < MIN_TS_MS:
        hint = " (looks like seconds; send milliseconds)" if ts > 946_684_800 else ""
        raise PayloadRejected(RejectReason.TS_OUT_OF_RANGE, f"ts {ts} is before 2000-01-01{hint}")
    if ts > now_ms + limits.max_future_ms:
        raise PayloadRejected(
            RejectReason.TS_IN_FUTURE, f"ts {ts} is more than {limits.max_future_ms} ms ahead of hub time"
        )
    return ts


def parse_rfc3339_ms(text: str) -> int:
    """Parse an RFC 3339 timestamp with an explicit zone into epoch milliseconds."""
    if len(text) > 40 or "T" not in text.upper():
        raise PayloadRejected(RejectReason.SCHEMA, f"ts {text[:40]!r} is not RFC 3339")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadRejected(RejectReason.SCHEMA, f"ts {text[:40]!r} is not RFC 3339") from None
    if parsed.tzinfo is None:
        raise PayloadRejected(RejectReason.SCHEMA, f"ts {text[:40]!r} has no time zone (add Z or +hh:mm)")
    return to_epoch_ms(parsed)


def _value(key: str, raw: object) -> Value:
    if isinstance(raw, bool | str):
        if isinstance(raw, str) and len(raw) > MAX_STRING_VALUE:
            raise PayloadRejected(RejectReason.SCHEMA, f"value of {key!r} is longer than {MAX_STRING_VALUE}")
        return raw
    if isinstance(raw, int):
        return float(raw)
    if isinstance(raw, float) and math.isfinite(raw):
        return raw
    raise PayloadRejected(RejectReason.SCHEMA, f"value of {key[:64]!r} must be a number, boolean or string")


_FIELDS = frozenset({"ts", "values", "seq"})
#: Sensor names already checked against the pattern (bounded: a device cannot grow it without limit).
_KNOWN_KEYS: set[str] = set()
_KNOWN_KEYS_MAX = 10_000


def _check_key(key: str) -> None:
    if key in _KNOWN_KEYS:
        return
    if _KEY_RE.fullmatch(key) is None:
        raise PayloadRejected(RejectReason.SCHEMA, f"invalid sensor name {key[:64]!r}")
    if len(_KNOWN_KEYS) < _KNOWN_KEYS_MAX:
        _KNOWN_KEYS.add(key)


def _parse_object(obj: object, now_ms: int, limits: Limits, arrivals: Arrivals, out: list[Reading]) -> None:
    # orjson builds plain dicts, so class identity checks stand in for isinstance on this hot path.
    if obj.__class__ is not dict:
        raise PayloadRejected(RejectReason.SCHEMA, "each message must be an object with 'values'")
    assert isinstance(obj, dict)
    if not _FIELDS.issuperset(obj):
        extra = sorted(obj.keys() - _FIELDS)
        raise PayloadRejected(RejectReason.SCHEMA, f"unknown field(s): {', '.join(extra)[:120]}")
    get = obj.get
    values = get("values")
    if values.__class__ is not dict or not values:
        raise PayloadRejected(RejectReason.SCHEMA, "'values' must be a non-empty object")
    seq = get("seq")
    if seq is not None and (seq.__class__ is not int or not 0 <= seq <= MAX_SEQ):
        raise PayloadRejected(RejectReason.SCHEMA, "seq must be a non-negative integer")
    raw_ts = get("ts")
    # The common case inline (integer milliseconds in range); parse_ts handles and explains the rest.
    if raw_ts.__class__ is int and MIN_TS_MS <= raw_ts <= now_ms + limits.max_future_ms:
        ts = raw_ts
    else:
        ts = parse_ts(raw_ts, now_ms, limits)
        if raw_ts is None and seq is None:
            seq = arrivals()
    if len(out) + len(values) > limits.max_values:
        raise PayloadRejected(RejectReason.TOO_MANY_VALUES, f"more than {limits.max_values} values in one message")
    for key, raw in values.items():
        _check_key(key)
        cls = raw.__class__
        if cls is float and math.isfinite(raw):
            value: Value = raw
        elif cls is int:
            value = float(raw)
        else:
            value = _value(key, raw)
        out.append(_new_reading(Reading, (key, ts, value, seq)))


_DICT, _INT, _NONE, _FLOAT = {dict}, {int}, {type(None)}, {float}
_NUMBERS = frozenset({int, float})


def _parse_list_columns(doc: list[Any], now_ms: int, limits: Limits) -> ReadingColumns | None:
    """Readings of a list of objects, validated column by column; ``None`` when it needs a closer look.

    Batches from agents and gateways are long lists of alike objects. Each check here runs in C
    over a whole column (``map``, ``set``, ``min``), so a reading costs a fraction of the object
    by object path. Anything unusual (a string or RFC 3339 stamp, a sensor name not seen yet, a
    value out of range, a mix of sequenced and unsequenced objects) returns ``None``, and
    :func:`_parse_object` then accepts it or says exactly what is wrong.
    """
    shape = _uniform_shape(doc, now_ms, limits)
    if shape is None:
        return None
    values, stamps, seqs = shape
    counts = list(map(len, values))
    keys = list(chain.from_iterable(values))
    if sum(counts) > limits.max_values or not _KNOWN_KEYS.issuperset(keys):
        return None
    numbers = _finite_numbers(list(chain.from_iterable(map(dict.values, values))))
    if numbers is None:
        return None
    if len(keys) != len(doc):
        # Objects with several values: their stamp and seq go with each of them.
        stamps = list(chain.from_iterable(map(repeat, stamps, counts)))
        seqs = list(chain.from_iterable(map(repeat, seqs, counts)))
    return ReadingColumns(keys, stamps, numbers, seqs)


def _uniform_shape(doc: list[Any], now_ms: int, limits: Limits) -> tuple[list[Any], list[Any], list[Any]] | None:
    """The values, ts and seq columns when every object has exactly values, an integer ts in range and a seq
    (all of them or none)."""
    try:
        values: list[Any] = list(map(dict.get, doc, repeat("values")))
        stamps: list[Any] = list(map(dict.get, doc, repeat("ts")))
        seqs: list[Any] = list(map(dict.get, doc, repeat("seq")))
    except TypeError:  # an item that is not an object
        return None
    seq_types = set(map(type, seqs))
    if seq_types == _INT:
        fields = 3 if min(seqs) >= 0 and max(seqs) <= MAX_SEQ else 0
    else:
        fields = 2 if seq_types == _NONE else 0
    # The field count rules out unknown fields (and an explicit null seq, left to the closer look).
    if (
        sum(map(len, doc)) != fields * len(doc)
        or set(map(type, values)) != _DICT
        or not all(values)
        or set(map(type, stamps)) != _INT
        or min(stamps) < MIN_TS_MS
        or max(stamps) > now_ms + limits.max_future_ms
    ):
        return None
    return values, stamps, seqs


def _finite_numbers(raw: list[Any]) -> list[Value] | None:
    """``raw`` as floats when it holds finite numbers only (no booleans, no strings)."""
    kinds = set(map(type, raw))
    if kinds != _FLOAT:
        if not _NUMBERS.issuperset(kinds):
            return None
        raw = list(map(float, raw))
    return raw if all(map(math.isfinite, raw)) else None


def parse_telemetry(payload: bytes, now_ms: int, limits: Limits, arrivals: Arrivals) -> Sequence[Reading]:
    """Decode and validate one telemetry message into readings.

    Args:
        payload: the raw MQTT payload.
        now_ms: hub time, stamped on readings without ``ts`` and used for the future check.
        limits: size, count and clock bounds.
        arrivals: numbers the readings the hub stamps get as their ``seq`` (see :class:`Arrivals`).

    Raises:
        PayloadRejected: with the reason to count; nothing of the message is kept.
    """
    if len(payload) > limits.max_payload_bytes:
        raise PayloadRejected(
            RejectReason.PAYLOAD_TOO_LARGE, f"{len(payload)} bytes > limit of {limits.max_payload_bytes}"
        )
    try:
        doc: Any = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadRejected(RejectReason.MALFORMED_JSON, str(exc)[:120]) from None
    if doc.__class__ is not list:
        out: list[Reading] = []
        _parse_object(doc, now_ms, limits, arrivals, out)
        return out
    if not doc:
        raise PayloadRejected(RejectReason.SCHEMA, "empty list")
    if len(doc) > 1:
        readings = _parse_list_columns(doc, now_ms, limits)
        if readings is not None:
            return readings
    out = []
    for item in doc:
        _parse_object(item, now_ms, limits, arrivals, out)
    return out


def to_rfc3339(ts_ms: int) -> str:
    """Format epoch milliseconds as RFC 3339 UTC with millisecond precision."""
    return from_epoch_ms(ts_ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_epoch_ms(moment: datetime) -> int:
    """An aware datetime as epoch milliseconds (floor)."""
    # Integer arithmetic: going through float seconds loses a millisecond now and then.
    return (moment - _EPOCH) // _MS


def from_epoch_ms(ts_ms: int) -> datetime:
    """Epoch milliseconds as an aware UTC datetime, exactly."""
    return _EPOCH + timedelta(milliseconds=ts_ms)

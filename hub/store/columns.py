"""Points of one series packed column by column into chunks: the codec, deduplication and the merge policy
that both stores share (SQLite keeps a chunk as a row, MongoDB as a bucket document).

A row or document per point made the store's per-record cost the ceiling of batched ingest; a chunk
costs one record for up to :data:`MAX_POINTS` points. Blob layout (version 1, little endian): a header
(version, n), then n int64 timestamps, n int64 idents, n value types (bytes), n float64 numbers (NaN
where the value is a string), and the string values in order as a JSON list.
"""

from __future__ import annotations

import math
import struct
from array import array
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from typing import Generic, TypeVar, cast

import orjson

from contracts.telemetry import ReadingColumns, Value

Series = TypeVar("Series", bound=Hashable)

VERSION = 1
MAX_POINTS = 4096
_HEADER = struct.Struct("<BI")
#: Idents of readings without a ``seq``: ``ts + NO_SEQ``, negative (never a seq) and rising with time.
NO_SEQ = -(2**62)
NUMBER, BOOLEAN, STRING = 0, 1, 2
_FLOAT = {float}


def ident(seq: int | None, ts: int) -> int:
    """What identifies a point within its series: its ``seq``, or for unsequenced readings its time."""
    return seq if seq is not None else ts + NO_SEQ


@dataclass(slots=True)
class Columns:
    """The points of one chunk, column by column."""

    ts: array[int] = field(default_factory=lambda: array("q"))
    idents: array[int] = field(default_factory=lambda: array("q"))
    vtypes: bytearray = field(default_factory=bytearray)
    nums: array[float] = field(default_factory=lambda: array("d"))
    texts: list[str] = field(default_factory=list)

    def append(self, ts: int, point_ident: int, value: Value) -> None:
        self.ts.append(ts)
        self.idents.append(point_ident)
        self._append_value(value)

    def _append_value(self, value: Value) -> None:
        if isinstance(value, bool):
            self.vtypes.append(BOOLEAN)
            self.nums.append(float(value))
        elif isinstance(value, str):
            self.vtypes.append(STRING)
            self.nums.append(math.nan)
            self.texts.append(value)
        else:
            self.vtypes.append(NUMBER)
            self.nums.append(value)

    @classmethod
    def of(cls, readings: ReadingColumns) -> Columns:
        """The readings of one series as a chunk, column by column in C where the values allow."""
        ts = array("q", readings.stamps)
        seqs = readings.seqs
        # All sequenced (the usual case): the seqs are the idents, copied in C.
        idents = array("q", map(ident, seqs, ts) if None in seqs else cast("list[int]", seqs))
        values = readings.values
        if set(map(type, values)) == _FLOAT:
            return cls(ts, idents, bytearray(len(values)), array("d", values))  # type: ignore[arg-type]
        columns = cls(ts, idents)
        for value in values:
            columns._append_value(value)
        return columns

    def __len__(self) -> int:
        return len(self.ts)

    def value(self, index: int, text_index: dict[int, str]) -> Value:
        vtype = self.vtypes[index]
        if vtype == NUMBER:
            return self.nums[index]
        if vtype == BOOLEAN:
            return bool(self.nums[index])
        return text_index[index]

    def text_positions(self) -> dict[int, str]:
        """Point index -> its string value."""
        if not self.texts:
            return {}
        positions = [i for i, vtype in enumerate(self.vtypes) if vtype == STRING]
        return dict(zip(positions, self.texts, strict=True))

    def slice(self, start: int, stop: int) -> Columns:
        """Points ``start`` to ``stop`` as a new chunk (array slices, no per-point work)."""
        before = self.vtypes.count(STRING, 0, start)
        inside = self.vtypes.count(STRING, start, stop)
        return Columns(
            self.ts[start:stop],
            self.idents[start:stop],
            self.vtypes[start:stop],
            self.nums[start:stop],
            self.texts[before : before + inside],
        )

    def select(self, keep: list[int]) -> Columns:
        """A new chunk with the points at ``keep`` (in that order)."""
        texts = self.text_positions()
        return Columns(
            array("q", map(self.ts.__getitem__, keep)),
            array("q", map(self.idents.__getitem__, keep)),
            bytearray(map(self.vtypes.__getitem__, keep)),
            array("d", map(self.nums.__getitem__, keep)),
            [texts[i] for i in keep if i in texts] if texts else [],
        )

    @classmethod
    def concat(cls, parts: list[Columns]) -> Columns:
        """The points of ``parts``, one chunk after the other."""
        out = cls()
        for part in parts:
            out.ts.extend(part.ts)
            out.idents.extend(part.idents)
            out.vtypes += part.vtypes
            out.nums.extend(part.nums)
            out.texts += part.texts
        return out

    def without(self, stored: set[int]) -> Columns:
        """These points less those whose ident is in ``stored`` or came earlier in this chunk; itself when none is."""
        idents = self.idents
        if len(set(idents)) == len(idents) and stored.isdisjoint(idents):
            return self
        keep, seen = [], set(stored)
        for i, point_ident in enumerate(idents):
            if point_ident not in seen:
                seen.add(point_ident)
                keep.append(i)
        return self.select(keep)

    def parts(self) -> Iterator[Columns]:
        """These points as chunks of at most :data:`MAX_POINTS`."""
        if len(self) <= MAX_POINTS:
            yield self
            return
        for at in range(0, len(self), MAX_POINTS):
            yield self.slice(at, at + MAX_POINTS)

    def newest(self) -> tuple[int, Value]:
        """The newest point ``(ts, value)`` (the first of equal timestamps): the series' latest value."""
        at = self.ts.index(max(self.ts))
        return self.ts[at], self.value(at, self.text_positions() if self.vtypes[at] == STRING else {})

    def in_order(self) -> Columns:
        """These points ordered by (ts, ident), as queries return them; itself when they already are."""
        keys = list(zip(self.ts, self.idents, strict=True))
        order = sorted(range(len(keys)), key=keys.__getitem__)
        return self if order == list(range(len(keys))) else self.select(order)


def by_key(readings: ReadingColumns) -> list[tuple[str, ReadingColumns]]:
    """The readings of one message by sensor, each sensor's in arrival order (sorted in C, not per reading)."""
    keys = readings.keys
    if not keys:
        return []
    if keys.count(keys[0]) == len(keys):
        return [(keys[0], readings)]
    order = sorted(range(len(keys)), key=keys.__getitem__)  # stable: arrival order within a sensor
    return [(key, readings.pick(list(at))) for key, at in groupby(order, keys.__getitem__)]


def encode(columns: Columns) -> bytes:
    texts = orjson.dumps(columns.texts) if columns.texts else b""
    return b"".join(
        (
            _HEADER.pack(VERSION, len(columns)),
            columns.ts.tobytes(),
            columns.idents.tobytes(),
            bytes(columns.vtypes),
            columns.nums.tobytes(),
            texts,
        )
    )


def decode(blob: bytes) -> Columns:
    version, n = _HEADER.unpack_from(blob)
    if version != VERSION:
        raise ValueError(f"telemetry chunk of unknown version {version}")
    at = _HEADER.size
    columns = Columns()
    columns.ts.frombytes(blob[at : at + 8 * n])
    at += 8 * n
    columns.idents.frombytes(blob[at : at + 8 * n])
    at += 8 * n
    columns.vtypes = bytearray(blob[at : at + n])
    at += n
    columns.nums.frombytes(blob[at : at + 8 * n])
    at += 8 * n
    columns.texts = orjson.loads(blob[at:]) if at < len(blob) else []
    return columns


def encode_value(value: Value) -> tuple[int, float | None, str | None]:
    """Split a value into the (vtype, num, txt) columns."""
    if isinstance(value, bool):
        return 1, float(value), None
    if isinstance(value, str):
        return 2, None, value
    return 0, value, None


def decode_value(vtype: int, num: float | None, txt: str | None) -> Value:
    """Inverse of :func:`encode_value`."""
    if vtype == 1:
        return bool(num)
    if vtype == 2:
        return txt or ""
    return float(num or 0.0)


class SmallChunks(Generic[Series]):
    """When to merge the small chunks that low-rate series leave behind (the stores do the merging).

    A device sending one reading every few seconds gets a chunk per reading; left alone, such
    series would cost a record per point again, and a query would decode thousands of tiny chunks.
    Once a series has written ``every`` small chunks, its small chunks (fewer than :attr:`SMALL`
    points, at most :attr:`MERGE_AT_MOST` at once) are due to be merged, in time order.
    """

    SMALL = 256
    MERGE_AT_MOST = 1024

    def __init__(self, every: int = 64) -> None:
        self._every = every
        self._small_writes: dict[Series, int] = {}

    def note(self, series: Series, points: int) -> None:
        if points < self.SMALL:
            self._small_writes[series] = self._small_writes.get(series, 0) + 1

    def due(self) -> bool:
        return any(count >= self._every for count in self._small_writes.values())

    def take_due(self) -> list[Series]:
        """The series due for a merge, forgotten until they write ``every`` small chunks again."""
        due = [series for series, count in self._small_writes.items() if count >= self._every]
        for series in due:
            del self._small_writes[series]
        return due


LOWEST, HIGHEST = -(2**63), 2**63 - 1


class RangeScan:
    """The points of one series in ``[start, end)``, gathered chunk by chunk, each ident once.

    Chunks come in start order, or in end order for descending scans. With ``enough``, :meth:`complete`
    says when ``enough`` points are found that no later chunk can come before. An ident seen twice
    (a redelivery two writers stored at once, or a merge cut short) counts once.
    """

    def __init__(self, start: int | None, end: int | None, *, descending: bool, enough: int | None) -> None:
        self.start = LOWEST if start is None else start
        self.end = HIGHEST if end is None else end
        self._descending = descending
        self._enough = enough
        self._found: list[tuple[int, int, Columns, int]] = []
        self._seen: set[int] = set()

    def complete(self, min_ts: int, max_ts: int) -> bool:
        """Whether the next chunk, spanning ``[min_ts, max_ts]``, and every one after it can be left unread."""
        enough = self._enough
        if enough is None or len(self._found) < enough:
            return False
        ordered = sorted(point[0] for point in self._found)
        return max_ts < ordered[-enough] if self._descending else min_ts > ordered[enough - 1]

    def add(self, chunk: Columns) -> None:
        start, end, seen = self.start, self.end, self._seen
        for i, (ts, point_ident) in enumerate(zip(chunk.ts, chunk.idents, strict=True)):
            if start <= ts < end and point_ident not in seen:
                seen.add(point_ident)
                self._found.append((ts, point_ident, chunk, i))

    def points(self, limit: int) -> list[tuple[int, Value]]:
        """The first ``limit`` points in time order (equal times by ident), or the last ones when descending."""
        return [(ts, value) for ts, _, value in self.identified(limit)]

    def identified(self, limit: int) -> list[tuple[int, int, Value]]:
        """As :meth:`points`, each ``(ts, ident, value)``."""
        found = sorted(self._found, key=lambda point: point[:2], reverse=self._descending)[:limit]
        texts: dict[int, dict[int, str]] = {}
        points = []
        for ts, point_ident, chunk, i in found:
            chunk_texts = texts.get(id(chunk))
            if chunk_texts is None:
                chunk_texts = texts[id(chunk)] = chunk.text_positions()
            points.append((ts, point_ident, chunk.value(i, chunk_texts)))
        return points

    def numbers(self) -> tuple[list[int], list[float]]:
        """Every point's time and number (NaN for a string), as :class:`hub.store.rollups.Buckets` takes them."""
        return [point[0] for point in self._found], [chunk.nums[i] for _, _, chunk, i in self._found]

"""Telemetry points stored as chunks: one row per series and write, its columns packed in a blob.

A row per point made SQLite's per-row cost (two B-tree inserts) the ceiling of batched ingest; a
chunk costs one row for up to :data:`MAX_POINTS` points. Blob layout (version 1, little endian):
a header (version, n), then n int64 timestamps, n int64 idents, n value types (bytes), n float64
numbers (NaN where the value is a string), and the string values in order as a JSON list.
"""

from __future__ import annotations

import math
import sqlite3
import struct
from array import array
from dataclasses import dataclass, field
from typing import cast

import orjson

from contracts.telemetry import ReadingColumns, Value

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

    def in_order(self) -> Columns:
        """These points ordered by (ts, ident), as queries return them; itself when they already are."""
        keys = list(zip(self.ts, self.idents, strict=True))
        order = sorted(range(len(keys)), key=keys.__getitem__)
        return self if order == list(range(len(keys))) else self.select(order)


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


def insert(conn: sqlite3.Connection, series: int, columns: Columns) -> None:
    """Write ``columns`` as one or more chunk rows of ``series`` (inside the caller's transaction)."""
    for at in range(0, len(columns), MAX_POINTS):
        part = columns if len(columns) <= MAX_POINTS else columns.slice(at, at + MAX_POINTS)
        conn.execute(
            "INSERT INTO chunks(series, min_ts, max_ts, min_ident, max_ident, n, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (series, min(part.ts), max(part.ts), min(part.idents), max(part.idents), len(part), encode(part)),
        )


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

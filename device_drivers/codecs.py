"""Line codecs of the serial driver: one text line in, samples out, or :class:`LineRejected`.

Pure functions and small classes, no I/O: the serial driver feeds them lines.
"""

from __future__ import annotations

import csv
import math
import re
from datetime import UTC, datetime
from typing import Literal, Protocol

import orjson

from contracts.telemetry import MAX_STRING_VALUE, Value, to_epoch_ms
from device_drivers.base import Sample

KNOT_MPS = 0.514444


class LineRejected(ValueError):
    """A line the codec cannot read; the message says why (it is counted and logged, never fatal)."""


class Codec(Protocol):
    def decode(self, line: str) -> list[Sample]:
        """Samples of one line (a header line may give none), or :class:`LineRejected`."""


def _number_or_text(text: str) -> Value | None:
    text = text.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return text[:MAX_STRING_VALUE]
    return number if math.isfinite(number) else None


class CsvCodec:
    """Comma (or ``delimiter``) separated values; columns named by ``columns`` or a header line."""

    def __init__(self, columns: list[str] | None = None, delimiter: str = ",") -> None:
        self._columns = columns
        self._delimiter = delimiter

    def decode(self, line: str) -> list[Sample]:
        try:
            cells = next(csv.reader([line], delimiter=self._delimiter))
        except (csv.Error, StopIteration) as exc:
            raise LineRejected(f"not CSV: {exc}") from None
        values = [_number_or_text(cell) for cell in cells]
        if self._columns is None:
            if cells and all(isinstance(v, str) for v in values):
                self._columns = [cell.strip() for cell in cells]  # the header line
                return []
            self._columns = [f"c{i}" for i in range(len(cells))]
        if len(cells) != len(self._columns):
            raise LineRejected(f"{len(cells)} columns, expected {len(self._columns)}")
        return [Sample(name, value) for name, value in zip(self._columns, values, strict=True) if value is not None]


class JsonLinesCodec:
    """One JSON object per line; each number, boolean or short string becomes a field."""

    def decode(self, line: str) -> list[Sample]:
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise LineRejected(f"not JSON: {str(exc)[:80]}") from None
        if not isinstance(doc, dict):
            raise LineRejected("a JSON line must be an object")
        samples = []
        for key, value in doc.items():
            if isinstance(value, bool | str):
                samples.append(Sample(key, value if isinstance(value, bool) else value[:MAX_STRING_VALUE]))
            elif isinstance(value, int | float) and math.isfinite(value):
                samples.append(Sample(key, float(value)))
        return samples


class RegexCodec:
    """A regular expression whose named groups become fields; lines that do not match are rejected."""

    def __init__(self, pattern: str) -> None:
        try:
            self._pattern = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid pattern: {exc}") from None
        if not self._pattern.groupindex:
            raise ValueError("the pattern needs named groups, e.g. (?P<temp>[-0-9.]+)")

    def decode(self, line: str) -> list[Sample]:
        match = self._pattern.search(line)
        if match is None:
            raise LineRejected("does not match the pattern")
        return [
            Sample(name, value)
            for name, text in match.groupdict().items()
            if text is not None and (value := _number_or_text(text)) is not None
        ]


def nmea_checksum(body: str) -> str:
    """The two hex digits of an NMEA sentence's XOR checksum over the text between ``$`` and ``*``."""
    value = 0
    for char in body:
        value ^= ord(char)
    return f"{value:02X}"


def _coordinate(value: str, hemisphere: str, degree_digits: int) -> float:
    degrees, minutes = float(value[:degree_digits]), float(value[degree_digits:])
    if minutes >= 60 or hemisphere not in "NSEW":
        raise LineRejected(f"bad coordinate {value}{hemisphere}")
    signed = degrees + minutes / 60
    return -signed if hemisphere in "SW" else signed


class NmeaCodec:
    """NMEA 0183 GGA and RMC sentences from any talker, checksum verified; other sentences give nothing."""

    def decode(self, line: str) -> list[Sample]:
        line = line.strip()
        if not line.startswith("$") or "*" not in line:
            raise LineRejected("not an NMEA sentence with a checksum")
        body, _, given = line[1:].partition("*")
        if given[:2].upper() != nmea_checksum(body):
            raise LineRejected(f"checksum {given[:2]!r} does not match {nmea_checksum(body)}")
        fields = body.split(",")
        kind = fields[0][2:]
        try:
            if kind == "GGA":
                return self._gga(fields)
            if kind == "RMC":
                return self._rmc(fields)
        except (IndexError, ValueError) as exc:
            raise LineRejected(f"malformed {kind}: {exc}") from None
        return []

    @staticmethod
    def _gga(f: list[str]) -> list[Sample]:
        quality = int(f[6] or 0)
        samples = [Sample("fix_quality", float(quality))]
        if quality == 0:
            return samples
        samples += [
            Sample("latitude", _coordinate(f[2], f[3], 2)),
            Sample("longitude", _coordinate(f[4], f[5], 3)),
            Sample("satellites", float(f[7] or 0)),
        ]
        if f[9]:
            samples.append(Sample("altitude", float(f[9])))
        return samples

    @staticmethod
    def _rmc(f: list[str]) -> list[Sample]:
        status: Literal["A", "V"] = "A" if f[2] == "A" else "V"
        if status == "V":
            return [Sample("fix_quality", 0.0)]
        date, clock = f[9], f[1].split(".")[0]
        # Two-digit years: GPS receivers date from 1980, so 80-99 are the 1900s, the rest the 2000s.
        year = int(date[4:6]) + (1900 if int(date[4:6]) >= 80 else 2000)
        moment = datetime(
            year, int(date[2:4]), int(date[0:2]), int(clock[0:2]), int(clock[2:4]), int(clock[4:6]), tzinfo=UTC
        )
        fraction = f[1].partition(".")[2]
        ts = to_epoch_ms(moment) + (int((fraction + "000")[:3]) if fraction else 0)
        samples = [
            Sample("latitude", _coordinate(f[3], f[4], 2), ts),
            Sample("longitude", _coordinate(f[5], f[6], 3), ts),
        ]
        if f[7]:
            samples.append(Sample("speed_mps", round(float(f[7]) * KNOT_MPS, 3), ts))
        if f[8]:
            samples.append(Sample("course", float(f[8]), ts))
        return samples

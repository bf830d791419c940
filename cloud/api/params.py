"""Parsing of query parameters shared by several routes."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Query

from contracts.telemetry import MAX_TS_MS, MIN_TS_MS, PayloadRejected, parse_rfc3339_ms, to_rfc3339
from hub.errors import InvalidInput

_INTERVAL = re.compile(r"^(\d{1,9})(ms|s|m|h|d)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
MAX_INTERVAL_MS = 366 * 86_400_000
_EPOCH_MS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also takes digits int() refuses, such as "²"
_EPOCH_MS_DIGITS = len(str(MAX_TS_MS))
#: Far past any real registry, and far inside the signed 64 bits SQLite binds.
MAX_OFFSET = 1_000_000_000

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"Items to skip, 0-{MAX_OFFSET}")]


def parse_time(raw: str | None, name: str) -> int | None:
    """RFC 3339 (with zone) or epoch milliseconds -> epoch milliseconds.

    Either way the instant must lie from ``MIN_TS_MS`` (2000-01-01, before which no reading is
    stored) to ``MAX_TS_MS`` (the end of year 9999), else :class:`InvalidInput` naming ``name``.
    """
    if raw is None or raw == "":
        return None
    if _EPOCH_MS.fullmatch(raw):
        # More digits than the last instant has is out of range whatever they say (and int() refuses thousands).
        ms = int(raw) if len(raw.lstrip("0")) <= _EPOCH_MS_DIGITS else MAX_TS_MS + 1
    else:
        try:
            ms = parse_rfc3339_ms(raw)
        except PayloadRejected as exc:
            raise InvalidInput(f"{name}: {exc.detail}; use RFC 3339 or epoch milliseconds") from None
    if not MIN_TS_MS <= ms <= MAX_TS_MS:
        raise InvalidInput(
            f"{name}: must be from {to_rfc3339(MIN_TS_MS)} to {to_rfc3339(MAX_TS_MS)}"
            f" (epoch milliseconds {MIN_TS_MS} to {MAX_TS_MS})"
        )
    return ms


def parse_window(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    """``start`` and ``end`` as :func:`parse_time` reads them; :class:`InvalidInput` unless start is before end."""
    start_ms, end_ms = parse_time(start, "start"), parse_time(end, "end")
    if start_ms is not None and end_ms is not None and start_ms >= end_ms:
        raise InvalidInput("start must be before end")
    return start_ms, end_ms


def parse_interval(raw: str) -> int:
    """``500ms``, ``60s``, ``5m``, ``1h``, ``1d`` -> milliseconds."""
    match = _INTERVAL.fullmatch(raw.strip())
    if match is None:
        raise InvalidInput(f"interval {raw[:32]!r}: use a number and a unit of ms, s, m, h or d (e.g. 60s)")
    ms = int(match.group(1)) * _UNIT_MS[match.group(2)]
    if not 0 < ms <= MAX_INTERVAL_MS:
        raise InvalidInput(f"interval {raw!r} must be between 1ms and 366d")
    return ms

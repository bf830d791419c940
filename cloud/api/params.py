"""Parsing of query parameters shared by several routes."""

from __future__ import annotations

import re

from contracts.telemetry import PayloadRejected, parse_rfc3339_ms
from hub.errors import InvalidInput

_INTERVAL = re.compile(r"^(\d{1,9})(ms|s|m|h|d)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
MAX_INTERVAL_MS = 366 * 86_400_000


def parse_time(raw: str | None, name: str) -> int | None:
    """RFC 3339 (with zone) or epoch milliseconds -> epoch milliseconds."""
    if raw is None or raw == "":
        return None
    if raw.isdigit():
        return int(raw)
    try:
        return parse_rfc3339_ms(raw)
    except PayloadRejected as exc:
        raise InvalidInput(f"{name}: {exc.detail}; use RFC 3339 or epoch milliseconds") from None


def parse_interval(raw: str) -> int:
    """``500ms``, ``60s``, ``5m``, ``1h``, ``1d`` -> milliseconds."""
    match = _INTERVAL.fullmatch(raw.strip())
    if match is None:
        raise InvalidInput(f"interval {raw[:32]!r}: use a number and a unit of ms, s, m, h or d (e.g. 60s)")
    ms = int(match.group(1)) * _UNIT_MS[match.group(2)]
    if not 0 < ms <= MAX_INTERVAL_MS:
        raise InvalidInput(f"interval {raw!r} must be between 1ms and 366d")
    return ms

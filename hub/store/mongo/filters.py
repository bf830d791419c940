"""Small pieces of MongoDB filters that several adapters build the same way."""

from __future__ import annotations

from typing import Any


def family(name: str) -> str | dict[str, str]:
    """A filter value for a dotted name, or for a whole family when ``name`` ends with ``.`` (``node.``): the
    range ``node.`` to ``node/`` (``/`` follows ``.`` in ASCII), one range of the field's index."""
    return {"$gte": name, "$lt": name[:-1] + "/"} if name.endswith(".") else name


def time_range(start: int | None, end: int | None) -> dict[str, int] | None:
    """A filter value for ``start`` (inclusive) to ``end`` (exclusive), either open; ``None`` when both are."""
    bounds = {op: value for op, value in (("$gte", start), ("$lt", end)) if value is not None}
    return bounds or None


def equal(**fields: Any) -> dict[str, Any]:
    """A filter of the given fields' values, leaving out those that are ``None`` (no filter)."""
    return {field: value for field, value in fields.items() if value is not None}

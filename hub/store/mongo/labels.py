"""Label maps as the MongoDB store keeps them: an array of ``key=value`` strings.

A label key may hold a ``.``, which FerretDB refuses in a field name, so a map cannot be kept as a subdocument.
A label key never holds ``=`` (``contracts.devices.LabelKey``), so ``key=value`` reads back unambiguously, and an
array of such strings is what a multikey index serves: a device listing by label is one index seek.
"""

from __future__ import annotations

from collections.abc import Iterable

from hub.errors import InvalidInput


def to_pairs(labels: dict[str, str]) -> list[str]:
    """``labels`` as ``key=value`` strings; :class:`InvalidInput` for a key holding ``=``."""
    for key in labels:
        if "=" in key:
            raise InvalidInput(f"label key {key!r} holds '='")
    return [pair(key, value) for key, value in labels.items()]


def pair(key: str, value: str) -> str:
    """The stored form of one label, as a listing filters on it."""
    return f"{key}={value}"


def from_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """The map :func:`to_pairs` stored."""
    return {key: value for key, _, value in (item.partition("=") for item in pairs)}

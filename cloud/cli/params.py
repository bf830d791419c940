"""Option values the command line parses itself: KEY=VALUE pairs (plain, or with JSON values), JSON, durations.

Each is a click callback, so a bad value is a usage error naming the option (exit code 2).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)?$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{text!r} must be KEY=VALUE")
    return key, value


def key_values(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """``KEY=VALUE`` as a ``(key, value)`` pair of strings (a tuple of them for a repeatable option)."""
    if value is None:
        return None
    if isinstance(value, tuple):
        return tuple(_pair(v) for v in value)
    return _pair(value)


def json_pairs(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    """Repeated ``KEY=VALUE`` whose value is JSON when it parses (``5``, ``true``, ``[1,2]``), else a string."""
    parsed = []
    for key, text in (_pair(v) for v in value):
        try:
            parsed.append((key, json.loads(text)))
        except ValueError:
            parsed.append((key, text))
    return tuple(parsed)


def json_object(text: str, param_hint: str, expected: str = "must be a JSON object") -> dict[str, Any]:
    """``text`` as a JSON object; else a usage error naming ``param_hint`` (``expected`` says what it should be)."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint=param_hint) from None
    if not isinstance(doc, dict):
        raise click.BadParameter(expected, param_hint=param_hint)
    return doc


def file_text(path: Path, param_hint: str = "'--file'") -> str:
    """What the file at ``path`` holds (``-``: stdin); else a usage error naming ``param_hint``."""
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}", param_hint=param_hint) from None


def duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    """Seconds, plain or with a unit: ``90``, ``90s``, ``15m``, ``12h``, ``7d``."""
    match = _DURATION.match(str(value).strip())
    if match is None:
        raise click.BadParameter(f"{value!r} is no duration such as 90, 90s, 15m, 12h or 7d")
    return float(match.group(1)) * _UNIT_S[match.group(2) or "s"]


def label_changes(changes: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """``KEY=VALUE`` (set) and ``KEY-`` (remove) arguments, as kubectl label takes them."""
    sets: dict[str, str] = {}
    removes: list[str] = []
    for change in changes:
        if change.endswith("-") and "=" not in change and len(change) > 1:
            removes.append(change[:-1])
        else:
            key, sep, value = change.partition("=")
            if not sep or not key:
                raise click.BadParameter(f"{change!r} must be KEY=VALUE or KEY-", param_hint="CHANGES")
            sets[key] = value
    return sets, removes


def nested(pairs: Iterable[tuple[str, Any]], into: dict[str, Any] | None = None) -> dict[str, Any]:
    """Apply ``a.b=value`` settings to a copy of ``into``, making the objects a dotted key walks through."""
    doc: dict[str, Any] = json.loads(json.dumps(into or {}))
    for key, value in pairs:
        *path, last = key.split(".")
        node = doc
        for part in path:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[last] = value
    return doc

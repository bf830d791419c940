"""WHERE clauses of listing queries, built from optional filters with ``?`` placeholders for every value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self


class Where:
    """Conditions joined with AND; a filter that is ``None`` (or an empty list) adds none.

    Column names and clause text must be constants of the caller (they are interpolated into SQL); values are
    always bound as parameters.
    """

    def __init__(self) -> None:
        self._clauses: list[str] = []
        self.args: list[Any] = []

    def add(self, clause: str, *args: Any) -> Self:
        """A condition with its own placeholders, e.g. ``add("json_extract(labels, ?) = ?", path, value)``."""
        self._clauses.append(clause)
        self.args.extend(args)
        return self

    def equals(self, column: str, value: Any) -> Self:
        """``column = value``, unless ``value`` is ``None``."""
        return self if value is None else self.add(f"{column} = ?", value)

    def one_of(self, column: str, values: Sequence[Any]) -> Self:
        """``column IN (values)``, unless ``values`` is empty."""
        return self.add(f"{column} IN ({', '.join('?' * len(values))})", *values) if values else self

    @property
    def sql(self) -> str:
        """``WHERE ...``, or the empty string when no filter applies."""
        return f"WHERE {' AND '.join(self._clauses)}" if self._clauses else ""

"""The refusal of an app package (:class:`InvalidPackage`) and the problems collected for it."""

from __future__ import annotations

from contracts.errors import ErrorCode, FieldhubError


class InvalidPackage(FieldhubError):
    """An uploaded package was refused; ``details`` lists every problem as ``{"path", "problem"}``."""

    code = ErrorCode.INVALID_PACKAGE

    def __init__(self, details: list[dict[str, str]]) -> None:
        first = details[0] if details else {"path": "", "problem": "invalid package"}
        where = f"{first['path']}: " if first["path"] else ""
        super().__init__(f"invalid package ({len(details)} problem(s)); {where}{first['problem']}")
        self.details = details


class Problems:
    """The problems found so far, at most ``limit`` of them listed; :meth:`raise_if_any` refuses the package."""

    def __init__(self, limit: int) -> None:
        self.items: list[dict[str, str]] = []
        self._limit = limit
        self._more = 0

    def add(self, path: str, problem: str) -> None:
        if len(self.items) < self._limit:
            self.items.append({"path": path[:300], "problem": problem})
        else:
            self._more += 1

    def raise_if_any(self) -> None:
        if self._more:
            self.items.append({"path": "", "problem": f"{self._more} more problem(s) not listed"})
        if self.items:
            raise InvalidPackage(self.items)

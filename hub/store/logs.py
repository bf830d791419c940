"""The log store: every line the nodes, their apps and the hub itself wrote, searchable by text.

A line belongs to a node (``hub`` for the hub's own) and a tenant (``""`` for the hub's own); an app's lines
also name the app, version, deployment, instance, service and stream. Text search takes an FTS5 query (words,
``"phrases"``, ``prefix*``, ``AND``/``OR``/``NOT``, parentheses) as :func:`search_expression` gives it; a backend
without FTS5 must give the same answers.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

#: Levels by number; a query's ``min_level`` is one of these.
LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
LEVEL_NAMES = {number: name for name, number in LEVELS.items()}
#: The node and tenant of the hub's own lines.
HUB_NODE = "hub"
HUB_TENANT = ""
_TOKEN = re.compile(r'"[^"]*"?|[^\s"]+')
_BAREWORD = re.compile(r"[\w\u0080-\U0010ffff]+")
_OPERATORS = {"AND", "OR", "NOT"}
_SYNTAX = set('"()*^+:')


def search_expression(text: str) -> str:
    """``text`` as an FTS5 query, with each word that holds punctuation (``192.168.1.10``, ``conn-refused``,
    ``/var/log``) made a phrase of its parts, as people mean it; operators, quotes, parentheses and ``*`` keep
    their meaning, so a malformed expression stays malformed (and is refused, naming the problem)."""
    parts = []
    for token in _TOKEN.findall(text):
        if token in _OPERATORS or _BAREWORD.fullmatch(token) or _SYNTAX & set(token):
            parts.append(token)
        else:
            parts.append(f'"{token}"')
    return " ".join(parts)


@dataclass(frozen=True, slots=True)
class NewLine:
    """A line to store."""

    tenant: str
    node: str
    ts: int
    level: int
    logger: str
    message: str
    app: str | None = None
    version: str | None = None
    deployment: str | None = None
    instance: str | None = None
    service: str | None = None
    stream: str | None = None


@dataclass(frozen=True, slots=True)
class StoredLine:
    """A stored line with its ``id``: rising in the order lines were stored (a live tail's cursor)."""

    id: int
    tenant: str
    node: str
    ts: int
    level: int
    logger: str
    message: str
    app: str | None = None
    version: str | None = None
    deployment: str | None = None
    instance: str | None = None
    service: str | None = None
    stream: str | None = None

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES.get(self.level, str(self.level))


@dataclass(frozen=True, slots=True)
class LogQuery:
    """Which lines: every given filter must hold.

    ``tenant`` None means every tenant and the hub (platform admins). ``after`` keeps lines stored after the one
    with that id (a live tail); then lines come in store order, oldest first, whatever ``descending`` says.
    """

    tenant: str | None = None
    node: str | None = None
    deployment: str | None = None
    app: str | None = None
    text: str | None = None
    min_level: int = 0
    start: int | None = None
    end: int | None = None
    after: int | None = None
    limit: int = 100
    descending: bool = True
    #: Order by when lines were stored rather than by their time (a node's recent lines as they came).
    stored_order: bool = False


class LogStore(Protocol):
    """Log lines. Implementations are async and safe to share."""

    async def append(self, lines: Sequence[NewLine]) -> None:
        """Store ``lines`` in one write."""

    async def search(self, query: LogQuery) -> list[StoredLine]:
        """Lines that match ``query``, newest first if ``descending``, at most ``limit``: by time, or with ``text``
        (or ``stored_order``) by store order, which differs from time only for lines that arrived late.

        Raises:
            InvalidInput: ``query.text`` is not a valid search expression (naming the problem).
        """

    async def last_id(self) -> int:
        """The id of the newest stored line (0 when there is none): a live tail starts after it."""

    async def count(self) -> int:
        """How many lines are stored."""

    async def older_than(
        self, ts: int, limit: int, *, tenant: str | None = None, other_than: Collection[str] = ()
    ) -> list[StoredLine]:
        """Up to ``limit`` lines stamped before ``ts``, oldest first (those that age out): only ``tenant``'s if
        given, and none of the tenants in ``other_than`` (those with a retention of their own)."""

    async def beyond(self, keep: int, limit: int) -> list[StoredLine]:
        """Up to ``limit`` of the lines stored first, past the newest ``keep`` (those over the size limit)."""

    async def delete(self, ids: Sequence[int]) -> None:
        """Remove the lines with these ids (missing ones are no error)."""

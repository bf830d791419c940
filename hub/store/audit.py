"""The audit store: the audit trail's records (:class:`contracts.audit.AuditRecord`).

Records get their ``id`` from the store, rising in store order; a listing is newest first and pages with
``before`` (the id of the last record of the previous page). Retention removes records older than a cut-off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from contracts.audit import Actor, AuditRecord


@dataclass(frozen=True, slots=True)
class NewAuditRecord:
    """A record to store (it gets its ``id`` there)."""

    ts: int
    actor: Actor | None
    action: str
    outcome: str
    target: str | None = None
    tenant: str | None = None
    address: str | None = None
    status: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which records: every given filter must hold.

    ``tenant`` None means every tenant (platform admins). ``action`` is an action, or a prefix ending with a dot
    (``device.``). ``actor`` is an actor's id (of any kind); ``before`` keeps records older than the one with
    that id (the next page). ``start`` is inclusive, ``end`` exclusive (epoch ms).
    """

    tenant: str | None = None
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    start: int | None = None
    end: int | None = None
    before: int | None = None
    limit: int = 100


class AuditStore(Protocol):
    """The audit trail. Implementations are async and safe to share."""

    async def append(self, records: Sequence[NewAuditRecord]) -> list[AuditRecord]:
        """Store ``records`` in one write; the stored records with their ids, in the same order."""

    async def query(self, query: AuditQuery) -> list[AuditRecord]:
        """Records that match ``query``, newest first, at most ``limit``."""

    async def trim(self, before: int) -> int:
        """Remove records stamped before ``before``; how many went."""

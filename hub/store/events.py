"""The event store: platform events (:class:`contracts.events.Event`) and the tenants' webhook subscriptions.

Events get their ``id`` from the store, rising in store order, so a live stream follows them with a cursor
(``after``) whatever process stored them. Retention keeps, per tenant, the newest ``keep`` events and none
older than a cut-off. A webhook's secret is kept as given (the hub signs with it); its delivery counters
belong to it, so every process that delivers adds to the same ones. A consumer of the events that must go on
where it stopped, in whichever process, keeps a named cursor here: the id of an event it handled all up to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from contracts.events import Event

#: The cursor of the webhook deliveries (hub/events/webhooks.py).
WEBHOOKS_CURSOR = "webhooks"
#: The cursor of the alarm notifications (hub/notify/dispatcher.py).
NOTIFY_CURSOR = "notify"
#: Every consumer's cursor, copied with the rest by a store migration (hub/store/migration/concerns.py).
NAMED_CURSORS = (WEBHOOKS_CURSOR, NOTIFY_CURSOR)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to store (it gets its ``id`` there)."""

    ts: int
    tenant: str
    kind: str
    message: str
    deployment: str | None = None
    node: str | None = None
    data: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Which events: every given filter must hold.

    ``tenant`` None means every tenant (platform admins). ``kind`` is a kind, or a prefix ending with a dot
    (``node.``). ``after`` keeps events stored after the one with that id, and then they come oldest first
    (a live stream's poll); otherwise newest first.
    """

    tenant: str | None = None
    deployment: str | None = None
    node: str | None = None
    kind: str | None = None
    start: int | None = None
    end: int | None = None
    after: int | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class Webhook:
    """A tenant's subscription: events of ``kinds`` (every kind when empty; prefixes as in :class:`EventQuery`)
    are posted to ``url``, signed with ``secret``, and how that went."""

    id: str
    tenant: str
    url: str
    kinds: tuple[str, ...]
    secret: str
    created: int
    delivered: int = 0
    failed_attempts: int = 0
    dropped: int = 0
    last_attempt: int | None = None
    last_status: int | None = None
    last_error: str | None = None
    last_delivered: int | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one delivery attempt to a webhook came to: ``delivered``, else failed (``status``/``error`` say why).

    ``dropped`` when the event is given up: after its last attempt, or unsent (``tried`` False) because too many
    events waited for the webhook.
    """

    ts: int
    delivered: bool
    status: int | None = None
    error: str | None = None
    dropped: bool = False
    tried: bool = True


class EventStore(Protocol):
    """Events and webhooks. Implementations are async and safe to share."""

    async def append(self, events: Sequence[NewEvent]) -> list[Event]:
        """Store ``events`` in one write; the stored events with their ids, in the same order."""

    async def query(self, query: EventQuery) -> list[Event]:
        """Events that match ``query``: newest first, or with ``after`` oldest first; at most ``limit``."""

    async def last_id(self) -> int:
        """The id of the newest stored event (0 when there is none): a live stream starts after it."""

    async def trim(self, before: int, keep: int) -> int:
        """Remove events stamped before ``before`` and, per tenant, all but the newest ``keep``; how many went."""

    async def add_webhook(self, webhook: Webhook) -> None:
        """Store a new subscription (its ``id`` is new)."""

    async def webhooks(self, tenant: str | None) -> list[Webhook]:
        """The subscriptions of ``tenant`` (None: of every tenant), oldest first."""

    async def delete_webhook(self, webhook_id: str, tenant: str | None) -> bool:
        """Remove the subscription if it belongs to ``tenant`` (None: to any); whether it did."""

    async def count_attempt(self, webhook_id: str, attempt: Attempt) -> None:
        """Count one delivery attempt on its subscription (nothing if the subscription is gone)."""

    async def get_cursor(self, name: str) -> int | None:
        """The saved cursor of consumer ``name``, ``None`` if it never saved one."""

    async def set_cursor(self, name: str, event_id: int) -> None:
        """Save the cursor of consumer ``name``: it handled every event up to ``event_id``."""

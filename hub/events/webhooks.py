"""Webhooks: each tenant's subscriptions, and the delivery of its events to them, signed and retried.

A dispatcher follows the stored events (whatever process recorded them) and hands each to the matching
subscriptions of its tenant. Every subscription has a bounded queue and at most one delivery task, so a slow
or dead endpoint holds up only itself: when its queue is full the oldest waiting event is dropped and counted.
A delivery is a JSON ``POST`` of the event, signed (:mod:`hub.events.signing`); any answer but 2xx, a timeout or
a refused connection is tried again with capped exponential backoff, up to ``attempts`` times, then dropped.
Every attempt is counted on the subscription (``GET /api/v1/webhooks`` shows them).

Only the leader of the hub processes delivers (one dispatcher on the store). Its cursor, saved in the store
(:mod:`hub.events.cursor`, named :data:`CURSOR`), stays before the oldest event some subscription still owes
(:mod:`hub.events.progress`): queued, or being tried. The next leader resumes after it, so events stored while
no leader ran, and those the last one had queued but not sent, are delivered; some the last one had delivered
are delivered again (at-least-once: ``X-Fieldhub-Event-Id`` tells): at most what came since the oldest event
still owed, so an endpoint that is slow or being retried makes a handover resend more to the others. The very
first dispatcher starts from the newest event.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import httpx

from contracts.events import Event, matches_kind
from hub.clock import now_ms
from hub.errors import InvalidInput, NotFound, StoreUnavailable
from hub.events.cursor import SavedCursor, resume
from hub.events.posting import post_signed
from hub.events.progress import Progress
from hub.events.service import Events, Follow
from hub.logutil import RateLimitedLog
from hub.retry import Backoff
from hub.store.events import WEBHOOKS_CURSOR as CURSOR
from hub.store.events import Attempt, EventQuery, Webhook
from hub.tasks import Background

log = logging.getLogger(__name__)
MAX_WEBHOOKS_PER_TENANT = 20


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How deliveries are tried: ``attempts`` per event, backoff from ``first_s`` doubling up to ``cap_s``."""

    attempts: int = 8
    first_s: float = 1.0
    cap_s: float = 60.0
    timeout_s: float = 10.0
    #: Events waiting per subscription; beyond it the oldest is dropped.
    queue_size: int = 1000


class Webhooks:
    """Subscriptions in the event store; with :meth:`deliver` running (``async with``), their deliveries."""

    def __init__(self, events: Events, policy: DeliveryPolicy | None = None) -> None:
        self._events = events
        self._store = events.store
        self.policy = policy or DeliveryPolicy()
        self._queues: dict[str, deque[Event]] = {}
        self._busy: set[str] = set()
        self._background = Background()
        self._client: httpx.AsyncClient | None = None
        self._log = RateLimitedLog(log)
        # Both set when delivering starts; queues hold events only from then on.
        self._progress = Progress(0)
        self._cursor: SavedCursor | None = None

    async def __aenter__(self) -> Self:
        follow = await resume(self._events, EventQuery(), CURSOR)
        self._client = httpx.AsyncClient(timeout=self.policy.timeout_s, follow_redirects=False)
        await self._background.open()
        self._cursor = SavedCursor(self._store, CURSOR, follow.cursor)
        self._progress = Progress(follow.cursor, moved=self._cursor.move)
        self._background.spawn(self._cursor.run(), name="webhook-cursor")
        self._background.spawn(self._dispatch(follow), name="webhook-dispatcher")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._background.close()
        if self._cursor is not None:
            # What settled since the last write; deliveries cut short stay unsettled, for the next leader.
            await self._cursor.save()
            self._cursor = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def create(self, tenant: str, url: str, kinds: Sequence[str]) -> Webhook:
        """A new subscription of ``tenant`` with a new secret (the only time the secret is told)."""
        if len(await self._store.webhooks(tenant)) >= MAX_WEBHOOKS_PER_TENANT:
            raise InvalidInput(f"a tenant has at most {MAX_WEBHOOKS_PER_TENANT} webhooks; delete one first")
        webhook = Webhook(
            id=f"wh-{secrets.token_hex(6)}",
            tenant=tenant,
            url=url,
            kinds=tuple(dict.fromkeys(kinds)),
            secret=f"whsec_{secrets.token_urlsafe(32)}",
            created=now_ms(),
        )
        await self._store.add_webhook(webhook)
        log.info("webhook %s of tenant %s posts to %s", webhook.id, tenant, _host(url))
        return webhook

    async def list(self, tenant: str | None) -> list[Webhook]:
        return await self._store.webhooks(tenant)

    async def delete(self, webhook_id: str, tenant: str | None) -> None:
        if not await self._store.delete_webhook(webhook_id, tenant):
            raise NotFound("webhook", webhook_id)
        for event in self._queues.pop(webhook_id, ()):
            self._settle(event)

    async def _dispatch(self, follow: Follow) -> None:
        while True:
            found = await follow.next(60.0)
            if not found:
                continue
            subscribed = await self._subscriptions({e.tenant for e in found})
            for event in found:
                matching = [
                    w
                    for w in subscribed[event.tenant]
                    if not w.kinds or any(matches_kind(event.kind, k) for k in w.kinds)
                ]
                # Owed before it is queued: a delivery may settle it while the next queue takes it.
                self._progress.hand(event.id, len(matching))
                for webhook in matching:
                    await self._enqueue(webhook, event)

    async def _subscriptions(self, tenants: set[str]) -> dict[str, Sequence[Webhook]]:
        """The webhooks of ``tenants``, read again until the store answers: the events wait, none is skipped."""
        delays = Backoff(self.policy.first_s, self.policy.cap_s).delays()
        while True:
            try:
                return {t: await self._store.webhooks(t) for t in tenants}
            except StoreUnavailable as exc:
                self._log.warning("webhooks", "webhooks unreadable, events wait: %s", exc.message)
            await asyncio.sleep(next(delays))

    async def _enqueue(self, webhook: Webhook, event: Event) -> None:
        queue = self._queues.setdefault(webhook.id, deque())
        if len(queue) >= self.policy.queue_size:
            dropped = queue.popleft()
            error = f"event {dropped.id} dropped unsent: {self.policy.queue_size} events were waiting"
            await self._count(webhook, Attempt(now_ms(), delivered=False, error=error, dropped=True, tried=False))
            self._settle(dropped)
        queue.append(event)
        if webhook.id not in self._busy:
            self._busy.add(webhook.id)
            self._background.spawn(self._deliver_all(webhook), name=f"webhook-{webhook.id}")

    async def _deliver_all(self, webhook: Webhook) -> None:
        try:
            while (queue := self._queues.get(webhook.id)) is not None and queue:
                event = queue.popleft()
                await self._deliver(webhook, event)
                self._settle(event)  # delivered or given up; cut short (the leader stopping), it stays owed
        finally:
            self._busy.discard(webhook.id)

    def _settle(self, event: Event) -> None:
        """One webhook is done with ``event``."""
        self._progress.settle(event.id)

    async def _deliver(self, webhook: Webhook, event: Event) -> None:
        assert self._client is not None
        body = event.model_dump_json().encode()
        delays = Backoff(self.policy.first_s, self.policy.cap_s).delays()
        for attempt in range(1, self.policy.attempts + 1):
            headers = {
                "User-Agent": "Fieldhub-Webhooks/1",
                "X-Fieldhub-Event": event.kind,
                "X-Fieldhub-Event-Id": str(event.id),
                "X-Fieldhub-Webhook": webhook.id,
            }
            posted = await post_signed(self._client, webhook.url, webhook.secret, body, headers)
            status, error = posted.status, posted.error
            last = attempt == self.policy.attempts
            await self._count(
                webhook, Attempt(now_ms(), error is None, status, error, dropped=error is not None and last)
            )
            if error is None:
                return
            if last:
                self._log.warning(
                    f"webhook:{webhook.id}",
                    "webhook %s gave up on event %d after %d attempts: %s",
                    webhook.id,
                    event.id,
                    attempt,
                    error,
                )
                return
            await asyncio.sleep(next(delays))  # backoff before the next attempt at the endpoint

    async def _count(self, webhook: Webhook, attempt: Attempt) -> None:
        try:
            await self._store.count_attempt(webhook.id, attempt)
        except StoreUnavailable as exc:
            self._log.warning("webhook-counts", "counting a webhook delivery failed: %s", exc.message)


def _host(url: str) -> str:
    """The host of ``url``, for logs (a URL's path or query may hold a token)."""
    return httpx.URL(url).host

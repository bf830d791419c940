"""Delivery of alarm notifications: stored ``alarm.`` events to the channels each names.

The dispatcher follows the stored events of family ``alarm.`` (whatever process recorded them), so neither the
alarm engine nor ingest ever waits for a channel. Each event becomes a :class:`contracts.alarms.Notification`
for every channel in its ``data["notify"]`` that exists, is enabled and belongs to the event's tenant.

Per channel: a token bucket of ``rate_per_min`` (a minute's worth at once, then one every ``60/rate``
seconds; beyond it a notification is not sent and counted ``suppressed``), a bounded queue (full: the oldest
waiting notification is dropped and counted) and at most one sending task, so a channel that is down holds up
only itself. A failed attempt is tried again with capped exponential backoff up to ``attempts`` times, then
dropped. Every attempt is counted on the channel (:meth:`hub.store.channels.ChannelStore.count_sent`).

Only one process delivers (like webhooks, ``fieldhub up``). It keeps the id of the last event it handed to the
channels in the store, and a restart goes on after it, so an alarm raised by an ingest replica while the hub
restarted is still told; but nothing older than ``catch_up_s`` (a hub that was down for a day does not send a
day of stale notifications: they are skipped, logged and the alarms stay listed). A notification queued but not
yet sent when the process stops is lost with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from pydantic import ValidationError

from contracts.alarms import Notification
from contracts.channels import ChannelKind
from contracts.events import Event
from hub.clock import now_ms
from hub.errors import DeliveryFailed, StoreUnavailable
from hub.events.service import Events, Follow
from hub.logutil import RateLimitedLog
from hub.notify.base import Sender
from hub.ratelimit import TokenBucket
from hub.retry import Backoff
from hub.store.channels import ChannelRecord, ChannelStore, Sent
from hub.store.events import EventQuery
from hub.tasks import Background

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NotifyPolicy:
    """How sending is tried: ``attempts`` per notification, backoff from ``first_s`` doubling up to ``cap_s``."""

    attempts: int = 6
    first_s: float = 1.0
    cap_s: float = 60.0
    #: Longest one attempt may take, whatever the sender's own timeouts.
    timeout_s: float = 15.0
    #: Notifications waiting per channel; beyond it the oldest is dropped.
    queue_size: int = 100
    #: After a restart, events at most this old are still told.
    catch_up_s: float = 3600.0


def notification_of(event: Event) -> Notification:
    """The notification that tells of ``event`` (an ``alarm.`` event); its id is the event's, unique in the store.

    Raises:
        ValidationError: the event's data holds no alarm.
    """
    return Notification.model_validate(
        {"id": f"ev-{event.id}", "kind": event.kind.value, "ts": event.ts, "alarm": event.data.get("alarm")}
    )


class Dispatcher:
    """Hands alarm events to their channels while running (``async with``)."""

    def __init__(
        self,
        events: Events,
        store: ChannelStore,
        senders: Mapping[ChannelKind, Sender],
        policy: NotifyPolicy | None = None,
    ) -> None:
        self._events = events
        self._store = store
        self._senders = dict(senders)
        self.policy = policy or NotifyPolicy()
        self._queues: dict[str, deque[tuple[ChannelRecord, Notification]]] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._busy: set[str] = set()
        self._background = Background()
        self._log = RateLimitedLog(log)

    async def __aenter__(self) -> Self:
        await self._background.open()
        cursor = await self._store.notified()
        if cursor is None:  # the first start: from now on, and from here after every restart
            cursor = await self._events.store.last_id()
            await self._store.set_notified(cursor)
        follow = await self._events.follow(EventQuery(kind="alarm."), after=cursor)
        self._background.spawn(self._dispatch(follow), name="notify-dispatcher")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._background.close()

    async def _dispatch(self, follow: Follow) -> None:
        while True:
            found = await follow.next(60.0)
            for event in found:
                await self._notify(event)
            if found:
                try:
                    await self._store.set_notified(found[-1].id)
                except StoreUnavailable as exc:
                    self._log.warning("notify-cursor", "cannot keep how far notifications went: %s", exc.message)

    async def _notify(self, event: Event) -> None:
        wanted = event.data.get("notify")
        if not isinstance(wanted, list) or not wanted:
            return
        if now_ms() - event.ts > self.policy.catch_up_s * 1000:
            self._log.warning("notify-stale", "event %d is too old to be told (hub down since?): skipped", event.id)
            return
        try:
            notification = notification_of(event)
        except ValidationError as exc:
            self._log.warning("notify-event", "event %d tells of no alarm: %s", event.id, str(exc)[:200])
            return
        for channel_id in dict.fromkeys(c for c in wanted if isinstance(c, str)):
            try:
                # The tenant is part of the lookup: an event never reaches another tenant's channel.
                record = await self._store.get_channel(channel_id, event.tenant)
            except StoreUnavailable as exc:
                self._log.warning(
                    "notify-store", "channel %s not told of event %d: %s", channel_id, event.id, exc.message
                )
                continue
            if record is not None and record.channel.enabled:
                await self._enqueue(record, notification)

    async def _enqueue(self, record: ChannelRecord, notification: Notification) -> None:
        channel = record.channel
        if not self._bucket(channel.id, channel.rate_per_min).take():
            error = f"{notification.id} over the limit of {channel.rate_per_min} a minute"
            await self._count(channel.id, Sent(now_ms(), delivered=False, error=error, suppressed=True))
            return
        queue = self._queues.setdefault(channel.id, deque())
        if len(queue) >= self.policy.queue_size:
            _, dropped = queue.popleft()
            error = f"{dropped.id} dropped unsent: {self.policy.queue_size} notifications were waiting"
            await self._count(channel.id, Sent(now_ms(), delivered=False, error=error, dropped=True, tried=False))
        queue.append((record, notification))
        if channel.id not in self._busy:
            self._busy.add(channel.id)
            self._background.spawn(self._send_all(channel.id), name=f"notify-{channel.id}")

    def _bucket(self, channel_id: str, rate_per_min: int) -> TokenBucket:
        bucket = self._buckets.get(channel_id)
        if bucket is None or bucket.burst != rate_per_min:  # a new channel, or its rate changed
            bucket = self._buckets[channel_id] = TokenBucket(rate_per_min / 60, rate_per_min)
        return bucket

    async def _send_all(self, channel_id: str) -> None:
        try:
            while (queue := self._queues.get(channel_id)) is not None and queue:
                await self._send(*queue.popleft())
        finally:
            self._busy.discard(channel_id)

    async def _send(self, record: ChannelRecord, notification: Notification) -> None:
        channel = record.channel
        sender = self._senders.get(channel.kind)
        if sender is None:  # a kind this hub was configured for when the channel was made, and is no more
            refused = f"this hub sends no {channel.kind.value} notifications"
            await self._count(channel.id, Sent(now_ms(), delivered=False, error=refused, dropped=True))
            return
        delays = Backoff(self.policy.first_s, self.policy.cap_s).delays()
        for attempt in range(1, self.policy.attempts + 1):
            error: str | None = None
            try:
                async with asyncio.timeout(self.policy.timeout_s):
                    await sender.send(channel, record.secret, notification)
            except DeliveryFailed as exc:
                error = exc.message
            except TimeoutError:
                error = f"no answer within {self.policy.timeout_s:g}s"
            last = attempt == self.policy.attempts
            await self._count(channel.id, Sent(now_ms(), error is None, error, dropped=error is not None and last))
            if error is None:
                return
            if last:
                self._log.warning(
                    f"notify:{channel.id}",
                    "channel %s gave up on %s after %d attempt(s): %s",
                    channel.id,
                    notification.id,
                    attempt,
                    error,
                )
                return
            await asyncio.sleep(next(delays))  # backoff before the next attempt at the channel

    async def _count(self, channel_id: str, sent: Sent) -> None:
        try:
            await self._store.count_sent(channel_id, sent)
        except StoreUnavailable as exc:
            self._log.warning("notify-counts", "counting a notification of %s failed: %s", channel_id, exc.message)

"""Delivery of alarm notifications: stored ``alarm.`` events to the channels each names.

The dispatcher follows the stored events of family ``alarm.`` (whatever process recorded them), so neither the
alarm engine nor ingest ever waits for a channel. Each event becomes a :class:`contracts.alarms.Notification`
for every channel in its ``data["notify"]`` that exists, is enabled and belongs to the event's tenant.

Per channel: a token bucket of ``rate_per_min`` (a minute's worth at once, then one every ``60/rate``
seconds; beyond it a notification is not sent and counted ``suppressed``), a bounded queue (full: the oldest
waiting notification is dropped and counted) and at most one sending task, so a channel that is down holds up
only itself. A failed attempt is tried again with capped exponential backoff up to ``attempts`` times, then
dropped. Every attempt is counted on the channel (:meth:`hub.store.channels.ChannelStore.count_sent`).

Only the leader of the hub processes delivers (like webhooks). Its cursor, saved in the event store
(:mod:`hub.events.cursor`, named :data:`~hub.store.events.NOTIFY_CURSOR`), stays before the oldest event some
channel still owes (:mod:`hub.events.progress`): queued, or being tried. The next leader (or the hub restarted)
resumes after it, so alarms changed while no leader ran, and notifications the last one had queued but not sent,
are told; some the last one had sent are sent again (at-least-once across a handover: the notification's ``id``
tells). Nothing older than ``catch_up_s`` is told (a hub that was down for a day does not send a day of stale
notifications: they are skipped, logged and the alarms stay listed). The very first dispatcher starts from the
newest event.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from pydantic import ValidationError

from contracts.alarms import Notification
from contracts.channels import ChannelKind
from contracts.events import Event
from hub.clock import now_ms
from hub.errors import DeliveryFailed, StoreUnavailable
from hub.events.cursor import SavedCursor, resume
from hub.events.progress import Progress
from hub.events.service import Events, Follow
from hub.logutil import RateLimitedLog
from hub.notify.base import Sender
from hub.ratelimit import TokenBucket
from hub.retry import Backoff
from hub.store.channels import ChannelRecord, ChannelStore, Sent
from hub.store.events import NOTIFY_CURSOR as CURSOR
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


@dataclass(frozen=True, slots=True)
class _Queued:
    """A notification waiting for its channel, and the event it tells of (settled once the channel is done)."""

    record: ChannelRecord
    notification: Notification
    event_id: int


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
        self._queues: dict[str, deque[_Queued]] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._busy: set[str] = set()
        self._background = Background()
        self._log = RateLimitedLog(log)
        # Both set when dispatching starts; queues hold notifications only from then on.
        self._progress = Progress(0)
        self._cursor: SavedCursor | None = None

    async def __aenter__(self) -> Self:
        follow = await resume(self._events, EventQuery(kind="alarm."), CURSOR)
        await self._background.open()
        self._cursor = SavedCursor(self._events.store, CURSOR, follow.cursor)
        self._progress = Progress(follow.cursor, moved=self._cursor.move)
        self._background.spawn(self._cursor.run(), name="notify-cursor")
        self._background.spawn(self._dispatch(follow), name="notify-dispatcher")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._background.close()
        if self._cursor is not None:
            # What settled since the last write; sending cut short stays unsettled, for the next leader.
            await self._cursor.save()
            self._cursor = None

    async def _dispatch(self, follow: Follow) -> None:
        while True:
            for event in await follow.next(60.0):
                await self._notify(event)

    async def _notify(self, event: Event) -> None:
        told = self._told(event)
        if told is None:
            self._progress.hand(event.id, 0)
            return
        notification, wanted = told
        records = await self._channels(event, wanted)
        # Owed before it is queued: a sending task may settle it while the next channel takes it.
        self._progress.hand(event.id, len(records))
        for record in records:
            await self._enqueue(_Queued(record, notification, event.id))

    def _told(self, event: Event) -> tuple[Notification, list[str]] | None:
        """The notification of ``event`` and the ids of the channels it names; None if it tells none (stale or broken:
        logged)."""
        wanted = event.data.get("notify")
        if not isinstance(wanted, list) or not wanted:
            return None
        if now_ms() - event.ts > self.policy.catch_up_s * 1000:
            self._log.warning("notify-stale", "event %d is too old to be told (hub down since?): skipped", event.id)
            return None
        try:
            notification = notification_of(event)
        except ValidationError as exc:
            self._log.warning("notify-event", "event %d tells of no alarm: %s", event.id, str(exc)[:200])
            return None
        return notification, list(dict.fromkeys(c for c in wanted if isinstance(c, str)))

    async def _channels(self, event: Event, wanted: Sequence[str]) -> list[ChannelRecord]:
        """The enabled channels of ``wanted``, read again until the store answers: the events wait, none is skipped."""
        delays = Backoff(self.policy.first_s, self.policy.cap_s).delays()
        while True:
            try:
                # The tenant is part of the lookup: an event never reaches another tenant's channel.
                found = [await self._store.get_channel(channel_id, event.tenant) for channel_id in wanted]
                return [record for record in found if record is not None and record.channel.enabled]
            except StoreUnavailable as exc:
                self._log.warning("notify-store", "channels unreadable, notifications wait: %s", exc.message)
            await asyncio.sleep(next(delays))

    async def _enqueue(self, queued: _Queued) -> None:
        channel = queued.record.channel
        if not self._bucket(channel.id, channel.rate_per_min).take():
            error = f"{queued.notification.id} over the limit of {channel.rate_per_min} a minute"
            await self._count(channel.id, Sent(now_ms(), delivered=False, error=error, suppressed=True))
            self._progress.settle(queued.event_id)
            return
        queue = self._queues.setdefault(channel.id, deque())
        if len(queue) >= self.policy.queue_size:
            dropped = queue.popleft()
            error = f"{dropped.notification.id} dropped unsent: {self.policy.queue_size} notifications were waiting"
            await self._count(channel.id, Sent(now_ms(), delivered=False, error=error, dropped=True, tried=False))
            self._progress.settle(dropped.event_id)
        queue.append(queued)
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
                queued = queue.popleft()
                await self._send(queued.record, queued.notification)
                self._progress.settle(queued.event_id)  # sent or given up; cut short (the leader stopping), still owed
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

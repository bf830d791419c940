"""Alarm notifications across a change of leader: the next dispatcher on the store resumes at the saved cursor.

Each leader is a :class:`Dispatcher` on a connection of its own to one store (SQLite and FerretDB), sending to a
webhook channel whose receiver is a real local HTTP endpoint; the alarm events are stored through yet another
connection, as the alarm engine of another hub process would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from contracts.alarms import Alarm, AlarmState, Severity
from contracts.channels import Channel, ChannelKind, WebhookTarget
from contracts.events import Event
from hub.clock import now_ms
from hub.events.service import Events
from hub.notify.dispatcher import Dispatcher, NotifyPolicy
from hub.notify.webhook import WebhookSender
from hub.store.backend import Backend
from hub.store.channels import ChannelRecord
from hub.store.events import NOTIFY_CURSOR as CURSOR
from hub.store.events import NewEvent
from tests.contract.support import BACKENDS, opened
from tests.helpers.receiver import Receiver, receiver
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)

#: Retries fast and, for the length of a test, for ever: a notification the endpoint refuses stays queued.
POLICY = NotifyPolicy(attempts=10_000, first_s=0.01, cap_s=0.05, timeout_s=2)
CHANNEL = "ch-00000000000a"


@pytest.fixture(params=sorted(BACKENDS))
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return BACKENDS[request.param](request, tmp_path)


@asynccontextmanager
async def leader(url: str) -> AsyncIterator[Dispatcher]:
    """A hub process on the store at ``url`` sending notifications, as a leader does during its term."""
    async with (
        opened(url) as backend,
        Events(backend.events) as events,
        WebhookSender(timeout_s=2) as sender,
        Dispatcher(events, backend.channels, {ChannelKind.WEBHOOK: sender}, POLICY) as dispatcher,
    ):
        yield dispatcher


async def add_channel(backend: Backend, hook_url: str, channel_id: str = CHANNEL) -> None:
    """Tenant t1's webhook channel to ``hook_url``, with a rate limit no test reaches."""
    channel = Channel(
        id=channel_id,
        tenant="t1",
        name="on call",
        kind=ChannelKind.WEBHOOK,
        target=WebhookTarget.model_validate({"url": hook_url}),
        enabled=True,
        rate_per_min=1000,
        created=now_ms(),
    )
    await backend.channels.add_channel(ChannelRecord(channel, secret="whsec_test"))


async def raise_alarms(backend: Backend, count: int, notify: Iterable[str] = (CHANNEL,)) -> list[Event]:
    """``count`` alarms of tenant t1 raised at once, each an event naming ``notify`` as its channels."""
    now = now_ms()
    new = []
    for i in range(count):
        alarm = Alarm(
            id=f"al-{now:x}{i:04x}",
            tenant="t1",
            rule="too-hot",
            rule_name="Too hot",
            device="pump-7",
            key="temp",
            severity=Severity.MAJOR,
            state=AlarmState.ACTIVE,
            message=f"alarm {i}",
            value=31.5,
            raised=now,
            updated=now,
        )
        data = {"alarm": alarm.model_dump(mode="json", exclude={"history"}), "notify": list(notify)}
        new.append(NewEvent(ts=now, tenant="t1", kind="alarm.raised", message=alarm.message, node="pump-7", data=data))
    return await backend.events.append(new)


def ids(events: Iterable[Event]) -> list[str]:
    """The notification ids that tell of ``events``."""
    return [f"ev-{e.id}" for e in events]


async def delivered(endpoint: Receiver, count: int) -> list[str]:
    """The ids of the next ``count`` notifications ``endpoint`` took, in the order it took them."""

    async def taken() -> list[str]:
        if endpoint.delivered.qsize() < count:
            return []
        return [endpoint.delivered.get_nowait()[0]["X-Fieldhub-Notification"] for _ in range(count)]

    return await eventually(taken, what=f"{count} notifications")


async def caught_up(backend: Backend, event: Event) -> None:
    """Wait until the saved cursor is at ``event``: every notification up to it settled (sent, and counted)."""

    async def saved() -> bool:
        return await backend.events.get_cursor(CURSOR) == event.id

    await eventually(saved, what=f"the cursor at event {event.id}")


def tries(endpoint: Receiver, event: Event) -> int:
    return sum(1 for headers, _ in endpoint.requests if headers["X-Fieldhub-Notification"] == f"ev-{event.id}")


async def test_the_next_leader_sends_what_the_last_one_had_queued_or_was_retrying_and_what_came_between(
    url: str,
) -> None:
    async with opened(url) as other:
        async with receiver([204, 204, 204, 503]) as (old_endpoint, hook_url):
            await add_channel(other, hook_url)
            async with leader(url):
                sent = await raise_alarms(other, 3)
                assert await delivered(old_endpoint, 3) == ids(sent)
                # The endpoint now answers 503: the first of these is tried again and again, the others wait.
                queued = await raise_alarms(other, 3)

                async def retried() -> bool:
                    return tries(old_endpoint, queued[0]) >= 2

                await eventually(retried, what="the old leader retrying")
            # The old leader stopped: its cursor passed what was sent and nothing it still owed.
            assert await other.events.get_cursor(CURSOR) == sent[-1].id
            port = int(hook_url.rsplit(":", 1)[1].split("/")[0])

        between = await raise_alarms(other, 3)  # while no process sends
        async with receiver([204], port=port) as (new_endpoint, _), leader(url):
            got = await delivered(new_endpoint, 6)
            later = await raise_alarms(other, 1)
            got += await delivered(new_endpoint, 1)
            await caught_up(other, later[-1])

    # Every notification at least once, in order; none the old leader sent comes again, none is skipped.
    assert got == ids(queued + between + later)
    assert {tries(old_endpoint, e) for e in queued[1:]} == {0}  # never sent by the old leader


async def test_an_event_one_channel_still_owes_is_sent_again_to_all_its_channels_by_the_next_leader(
    url: str,
) -> None:
    """At least once: the channel that had its notification gets it again, the one that did not gets it at last."""
    async with opened(url) as other, receiver([204]) as (steady, steady_url):
        await add_channel(other, steady_url)
        async with receiver([503]) as (down, down_url):
            flaky = "ch-00000000000b"
            await add_channel(other, down_url, flaky)
            async with leader(url):
                [event] = await raise_alarms(other, 1, notify=(CHANNEL, flaky))
                assert await delivered(steady, 1) == ids([event])

                async def retried() -> bool:
                    return tries(down, event) >= 2

                await eventually(retried, what="the old leader retrying the channel that is down")
            assert await other.events.get_cursor(CURSOR) == event.id - 1
            port = int(down_url.rsplit(":", 1)[1].split("/")[0])

        async with receiver([204], port=port) as (up, _), leader(url):
            assert await delivered(up, 1) == ids([event])
            assert await delivered(steady, 1) == ids([event])  # again: the notification's id tells
            await caught_up(other, event)


async def test_the_first_dispatcher_ever_starts_from_the_newest_event_and_its_successor_from_there(url: str) -> None:
    async with opened(url) as other, receiver([204]) as (endpoint, hook_url):
        await add_channel(other, hook_url)
        await raise_alarms(other, 2)  # before any dispatcher ran: never sent
        async with leader(url):
            pass  # a first leader that stops before anything happened
        newest = await other.events.last_id()
        assert await other.events.get_cursor(CURSOR) == newest

        between = await raise_alarms(other, 1)
        async with leader(url):
            later = await raise_alarms(other, 1)
            # In order per channel: an older notification sent would come first.
            assert await delivered(endpoint, 2) == ids(between + later)

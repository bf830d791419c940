"""Webhook deliveries across a change of leader: the next dispatcher on the store resumes at the saved cursor.

Each leader is a :class:`Webhooks` on a connection of its own to one store (SQLite and FerretDB), posting to a
real local HTTP endpoint; the events are stored through yet another connection, as another hub process would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from contracts.events import Event
from hub.clock import now_ms
from hub.events.service import Events
from hub.events.webhooks import DeliveryPolicy, Webhooks
from hub.store.backend import Backend
from hub.store.events import WEBHOOKS_CURSOR as CURSOR
from hub.store.events import NewEvent
from tests.contract.support import BACKENDS, opened
from tests.helpers.receiver import Receiver, receiver
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)

#: Retries fast and, for the length of a test, for ever: an event the endpoint refuses stays queued.
POLICY = DeliveryPolicy(attempts=10_000, first_s=0.01, cap_s=0.05, timeout_s=2)


@pytest.fixture(params=sorted(BACKENDS))
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return BACKENDS[request.param](request, tmp_path)


@asynccontextmanager
async def leader(url: str) -> AsyncIterator[Webhooks]:
    """A hub process on the store at ``url`` delivering webhooks, as a leader does during its term."""
    async with opened(url) as backend, Events(backend.events) as events, Webhooks(events, POLICY) as webhooks:
        yield webhooks


async def store(backend: Backend, count: int) -> list[Event]:
    """``count`` events of tenant t1, stored at once."""
    return await backend.events.append(
        [NewEvent(ts=now_ms(), tenant="t1", kind="node.dead", message=f"event {i}") for i in range(count)]
    )


def ids(events: Iterable[Event]) -> list[int]:
    return [e.id for e in events]


async def delivered(endpoint: Receiver, count: int) -> list[int]:
    """The ids of the next ``count`` events ``endpoint`` took, in the order it took them."""

    async def taken() -> list[int]:
        if endpoint.delivered.qsize() < count:
            return []
        return [int(endpoint.delivered.get_nowait()[0]["X-Fieldhub-Event-Id"]) for _ in range(count)]

    return await eventually(taken, what=f"{count} deliveries")


def tries(endpoint: Receiver, event: Event) -> int:
    return sum(1 for headers, _ in endpoint.requests if headers["X-Fieldhub-Event-Id"] == str(event.id))


async def test_the_next_leader_delivers_what_the_last_one_had_queued_and_what_came_between(url: str) -> None:
    async with opened(url) as other, Events(other.events) as recording:
        async with receiver([204, 204, 204, 503]) as (old_endpoint, hook_url):
            await Webhooks(recording).create("t1", hook_url, [])
            async with leader(url):
                sent = await store(other, 3)
                assert await delivered(old_endpoint, 3) == ids(sent)
                # The endpoint now answers 503: the first of these is tried again and again, the others wait.
                queued = await store(other, 3)

                async def retried() -> bool:
                    return tries(old_endpoint, queued[0]) >= 2

                await eventually(retried, what="the old leader retrying")
            # The old leader stopped: its cursor passed what was delivered and nothing it still owed.
            assert await other.events.get_cursor(CURSOR) == sent[-1].id
            port = int(hook_url.rsplit(":", 1)[1].split("/")[0])

        between = await store(other, 3)  # while no process delivers
        async with receiver([204], port=port) as (new_endpoint, _), leader(url):
            got = await delivered(new_endpoint, 6)
            later = await store(other, 1)
            got += await delivered(new_endpoint, 1)

    # Every event at least once, in order; none the old leader delivered comes again, none is skipped.
    assert got == ids(queued + between + later)
    assert {tries(old_endpoint, e) for e in queued[1:]} == {0}  # never sent by the old leader


async def test_the_first_dispatcher_ever_starts_from_the_newest_event_and_its_successor_from_there(url: str) -> None:
    async with opened(url) as other:
        await store(other, 2)  # before any dispatcher ran: never delivered
        async with leader(url):
            pass  # a first leader that stops before anything happened
        newest = await other.events.last_id()
        assert await other.events.get_cursor(CURSOR) == newest

        between = await store(other, 1)
        async with receiver([204]) as (endpoint, hook_url), Events(other.events) as recording:
            await Webhooks(recording).create("t1", hook_url, [])
            async with leader(url):
                later = await store(other, 1)
                # In order per webhook: an older event delivered would come first.
                assert await delivered(endpoint, 2) == ids(between + later)


async def test_a_cursor_older_than_retention_resumes_at_the_oldest_event_kept(url: str) -> None:
    async with opened(url) as other, receiver([204]) as (endpoint, hook_url), Events(other.events) as recording:
        await Webhooks(recording).create("t1", hook_url, [])
        events = await store(other, 5)
        await other.events.set_cursor(CURSOR, events[0].id)
        await other.events.trim(before=0, keep=2)  # retention keeps the newest two of the tenant
        async with leader(url):
            assert await delivered(endpoint, 2) == ids(events[3:])

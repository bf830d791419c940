"""The event store's contract (events, their filters and retention; webhook subscriptions): every backend passes it."""

from __future__ import annotations

import pytest

from hub.store.backend import Backend
from hub.store.events import Attempt, EventQuery, NewEvent, Webhook
from tests.contract.support import T0

pytestmark = pytest.mark.timeout(30)


def _event(i: int, tenant: str = "t1", kind: str = "node.dead", **extra: object) -> NewEvent:
    return NewEvent(ts=T0 + i, tenant=tenant, kind=kind, message=f"event {i}", **extra)  # type: ignore[arg-type]


async def test_events_get_rising_ids_and_come_back_as_stored(backend: Backend) -> None:
    assert await backend.events.last_id() == 0
    stored = await backend.events.append(
        [_event(1, deployment="dep-1", node="gw1", data={"silent_s": 30, "nested": {"a": [1, 2]}}), _event(2)]
    )
    assert stored[0].id < stored[1].id == await backend.events.last_id()
    assert stored[0].data == {"silent_s": 30, "nested": {"a": [1, 2]}} and stored[1].data == {}
    assert await backend.events.query(EventQuery()) == list(reversed(stored))
    assert await backend.events.append([]) == []


async def test_every_filter_narrows_the_answer(backend: Backend) -> None:
    await backend.events.append(
        [
            _event(1, kind="node.suspect", node="gw1"),
            _event(2, kind="node.dead", node="gw1"),
            _event(3, kind="instance.started", node="gw2", deployment="dep-1"),
            _event(4, kind="deployment.degraded", deployment="dep-1"),
            _event(5, tenant="t2", kind="node.dead", node="gw9"),
        ]
    )

    async def messages(**query: object) -> list[str]:
        return [e.message for e in await backend.events.query(EventQuery(**query))]  # type: ignore[arg-type]

    assert await messages(tenant="t1") == ["event 4", "event 3", "event 2", "event 1"]
    assert await messages(kind="node.") == ["event 5", "event 2", "event 1"]
    assert await messages(kind="node.dead", tenant="t1") == ["event 2"]
    assert await messages(kind="node") == []  # a family is named with its dot
    assert await messages(deployment="dep-1") == ["event 4", "event 3"]
    assert await messages(node="gw1") == ["event 2", "event 1"]
    assert await messages(start=T0 + 2, end=T0 + 4) == ["event 3", "event 2"]
    assert await messages(limit=2) == ["event 5", "event 4"]
    first = (await backend.events.query(EventQuery(kind="node.suspect")))[0].id
    # A follower's poll: after a cursor, oldest first.
    assert await messages(after=first, tenant="t1") == ["event 2", "event 3", "event 4"]


async def test_retention_drops_old_events_and_keeps_the_newest_per_tenant(backend: Backend) -> None:
    await backend.events.append([_event(i) for i in range(10)] + [_event(i, tenant="t2") for i in range(3)])
    assert await backend.events.trim(before=T0 + 2, keep=5) == 2 + 2 + 3  # t1 and t2 by age, t1 by number
    assert [e.message for e in await backend.events.query(EventQuery(tenant="t1"))] == [
        f"event {i}" for i in range(9, 4, -1)
    ]
    assert len(await backend.events.query(EventQuery(tenant="t2"))) == 1
    newest = await backend.events.last_id()
    await backend.events.trim(before=T0 + 100, keep=5)
    assert await backend.events.query(EventQuery()) == []
    [again] = await backend.events.append([_event(100)])
    assert again.id > newest  # ids are never given twice


async def test_webhooks_are_per_tenant_and_count_their_deliveries(backend: Backend) -> None:
    hook = Webhook("wh-000000000001", "t1", "http://example.test/hook", ("node.",), "s3cret", T0)
    await backend.events.add_webhook(hook)
    await backend.events.add_webhook(Webhook("wh-000000000002", "t2", "http://example.test/2", (), "other", T0 + 1))
    assert await backend.events.webhooks("t1") == [hook]
    assert [w.id for w in await backend.events.webhooks(None)] == ["wh-000000000001", "wh-000000000002"]

    await backend.events.count_attempt(hook.id, Attempt(T0 + 10, delivered=False, status=500, error="answered 500"))
    await backend.events.count_attempt(hook.id, Attempt(T0 + 20, delivered=True, status=204))
    await backend.events.count_attempt(hook.id, Attempt(T0 + 30, delivered=False, error="ConnectError", dropped=True))
    await backend.events.count_attempt(
        hook.id, Attempt(T0 + 40, delivered=False, error="full", dropped=True, tried=False)
    )
    [counted] = await backend.events.webhooks("t1")
    assert (counted.delivered, counted.failed_attempts, counted.dropped) == (1, 2, 2)
    assert (counted.last_attempt, counted.last_status, counted.last_error) == (T0 + 40, None, "full")
    assert counted.last_delivered == T0 + 20

    assert not await backend.events.delete_webhook(hook.id, "t2")  # another tenant's
    assert await backend.events.delete_webhook(hook.id, "t1")
    assert not await backend.events.delete_webhook(hook.id, None)
    await backend.events.count_attempt(hook.id, Attempt(T0, delivered=True))  # gone: nothing to count
    assert [w.id for w in await backend.events.webhooks(None)] == ["wh-000000000002"]


async def test_a_consumer_s_cursor_is_kept_under_its_name(backend: Backend) -> None:
    events = backend.events
    assert await events.get_cursor("webhooks") is None  # never saved: the consumer's first start
    await events.set_cursor("webhooks", 0)  # a store with no events yet
    assert await events.get_cursor("webhooks") == 0
    await events.set_cursor("webhooks", 41)
    await events.set_cursor("webhooks", 42)
    await events.set_cursor("other", 7)
    assert (await events.get_cursor("webhooks"), await events.get_cursor("other")) == (42, 7)
    await events.set_cursor("webhooks", 5)  # a consumer that resumed lower (its events started over) saves that
    assert await events.get_cursor("webhooks") == 5


async def test_a_cursor_outlives_the_events_it_passed(backend: Backend) -> None:
    stored = await backend.events.append([_event(i) for i in range(3)])
    await backend.events.set_cursor("webhooks", stored[1].id)
    await backend.events.trim(before=T0 + 100, keep=0)
    assert await backend.events.get_cursor("webhooks") == stored[1].id
    # Resuming after it reads what was stored since, whatever retention removed.
    [later] = await backend.events.append([_event(10)])
    assert await backend.events.query(EventQuery(after=stored[1].id)) == [later]

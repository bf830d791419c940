"""The outbox's contract (stored batches in store order, consumers' cursors, trimming): every backend passes it."""

from __future__ import annotations

import pytest

from contracts.telemetry import Reading, ReadingColumns
from hub.store.backend import Backend
from hub.store.telemetry import DeviceReadings
from tests.contract.support import T0, with_devices

pytestmark = pytest.mark.timeout(30)


def _message(device_id: str, n: int) -> DeviceReadings:
    return DeviceReadings(
        device_id, "t1", T0 + n, [Reading("v", T0 + n, float(n), n), Reading("w", T0 + n, True, None)]
    )


async def test_every_write_is_a_batch_in_store_order(backend: Backend) -> None:
    await with_devices(backend, "d1", "d2")
    assert await backend.outbox.head() == 0
    assert await backend.outbox.since(0, 10) == []
    positions = []
    for n in range(5):
        result = await backend.telemetry.write_points([_message("d1", n), _message("d2", n)])
        positions.append(result.position)
    assert positions == sorted(positions) and len(set(positions)) == 5
    assert await backend.outbox.head() == positions[-1]
    batches = await backend.outbox.since(positions[1], 2)
    assert [b.position for b in batches] == positions[2:4]
    # A batch holds its messages as they were written, redeliveries included (streams are at least once).
    again = await backend.telemetry.write_points([_message("d1", 0)])
    assert again.duplicates == 2
    [latest] = await backend.outbox.since(positions[-1], 10)
    assert latest.position == again.position
    assert [(m.device_id, m.tenant, m.received, list(m.readings)) for m in latest.messages] == [
        ("d1", "t1", T0, [Reading("v", T0, 0.0, 0), Reading("w", T0, True, None)])
    ]
    assert await backend.outbox.oldest_after(again.position) is None
    # Readings held as columns (batches) come back as the same readings.
    columns = ReadingColumns(["v", "v"], [T0, T0 + 1], [1.0, 2.0], [7, None])
    batch = await backend.telemetry.write_points([DeviceReadings("d2", "t1", T0, columns)])
    [stored] = await backend.outbox.since(batch.position - 1, 1)
    assert list(stored.messages[0].readings) == [Reading("v", T0, 1.0, 7), Reading("v", T0 + 1, 2.0, None)]
    created = await backend.outbox.oldest_after(positions[-1])
    assert created is not None and created == latest.created


async def test_cursors_and_trimming(backend: Backend) -> None:
    await with_devices(backend, "d1")
    positions = [(await backend.telemetry.write_points([_message("d1", n)])).position for n in range(4)]
    assert await backend.outbox.get_cursor("kafka://a") is None
    await backend.outbox.set_cursor("kafka://a", positions[1])
    await backend.outbox.set_cursor("nats://b", positions[2])
    assert await backend.outbox.get_cursor("kafka://a") == positions[1]
    (newest,) = await backend.outbox.since(positions[2], 1)
    # Too young to go: nothing is trimmed however far the cursors are.
    assert await backend.outbox.trim(older_than=0, cursors_idle_since=0) == 0
    # Old enough: only what every cursor has passed goes.
    assert await backend.outbox.trim(older_than=newest.created + 1, cursors_idle_since=0) == 2
    assert [b.position for b in await backend.outbox.since(0, 10)] == positions[2:]
    await backend.outbox.set_cursor("kafka://a", positions[3])
    await backend.outbox.set_cursor("nats://b", positions[3])
    assert await backend.outbox.trim(older_than=newest.created + 1, cursors_idle_since=0) == 2
    assert await backend.outbox.since(0, 10) == []
    # Positions are never given twice, also once every batch was trimmed.
    assert await backend.outbox.head() == positions[3]
    assert (await backend.telemetry.write_points([_message("d1", 9)])).position > positions[3]


async def test_ingest_appends_only_what_is_written_for_the_outbox(backend: Backend) -> None:
    await with_devices(backend, "d1")
    head = await backend.outbox.head()
    result = await backend.telemetry.write_points([_message("d1", 1)], outbox=False)
    assert result.position is None and result.stored == 2
    assert await backend.outbox.head() == head and await backend.outbox.since(head, 10) == []


async def test_leases_and_cursors_say_whether_the_outbox_is_followed(backend: Backend) -> None:
    now = T0
    assert not await backend.outbox.followed(now)
    await backend.outbox.lease("live:hub", now + 10_000)
    assert await backend.outbox.followed(now) and not await backend.outbox.followed(now + 10_000)
    await backend.outbox.lease("live:hub", now + 20_000)  # renewed
    assert await backend.outbox.followed(now + 10_000)
    await backend.outbox.release("live:hub")
    assert not await backend.outbox.followed(now)
    # A durable cursor follows for good, until no process saved it for longer than the expiry.
    await backend.outbox.set_cursor("kafka://k", 0)
    assert await backend.outbox.followed(now)
    await backend.outbox.trim(older_than=0, cursors_idle_since=0)
    assert await backend.outbox.get_cursor("kafka://k") == 0
    await backend.outbox.trim(older_than=0, cursors_idle_since=2**62)
    assert await backend.outbox.get_cursor("kafka://k") is None
    assert not await backend.outbox.followed(now)

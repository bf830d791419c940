"""The outbox's contract (stored batches in store order, consumers' cursors, trimming): every backend passes it."""

from __future__ import annotations

import pytest

from contracts.telemetry import Reading
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
    assert await backend.outbox.trim(older_than=0) == 0
    # Old enough: only what every cursor has passed goes.
    assert await backend.outbox.trim(older_than=newest.created + 1) == 2
    assert [b.position for b in await backend.outbox.since(0, 10)] == positions[2:]
    await backend.outbox.set_cursor("kafka://a", positions[3])
    await backend.outbox.set_cursor("nats://b", positions[3])
    assert await backend.outbox.trim(older_than=newest.created + 1) == 2
    assert await backend.outbox.since(0, 10) == []
    # Positions are never given twice, also once every batch was trimmed.
    assert await backend.outbox.head() == positions[3]
    assert (await backend.telemetry.write_points([_message("d1", 9)])).position > positions[3]

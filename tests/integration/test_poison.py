"""Poison messages: one whose handling fails every time is refused and counted, and everything else goes on."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import orjson
import pytest

from cloud.runtime import HubRuntime
from contracts.errors import RejectReason
from contracts.telemetry import Arrivals, Limits
from hub.follower import Followers
from hub.ingest.pipeline import IngestPipeline
from hub.metrics import Metrics
from hub.store.sqlite.backend import sqlite_backend
from hub.store.telemetry import Message, RangeQuery, TelemetryStore, WriteResult
from tests.helpers.hub import Api, connected_device
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.timeout(60), pytest.mark.allow_logged_exceptions]


class FaultyTelemetry:
    """The real SQLite telemetry store with one fault injected: any batch holding a message of ``poison`` fails.

    No real input makes the store fail for one message only; this stands in for such a bug.
    """

    def __init__(self, real: TelemetryStore) -> None:
        self._real = real

    async def write_points(self, batch: Sequence[Message], *, outbox: bool = True) -> WriteResult:
        if any(message.device_id == "poison" for message in batch):
            raise ValueError("a bug that this message triggers every time")
        return await self._real.write_points(batch, outbox=outbox)


async def test_the_store_failing_on_one_message_refuses_that_one_only(tmp_path: Path) -> None:
    backend = sqlite_backend(tmp_path / "hub.db")
    await backend.database.open()
    store = backend.telemetry
    metrics = Metrics()
    try:
        faulty = cast("TelemetryStore", FaultyTelemetry(store))
        followers = Followers(backend.outbox)
        async with IngestPipeline(
            faulty, backend.outbox, metrics, Limits(), Arrivals(0), followers=followers
        ) as pipeline:
            senders = [
                pipeline.submit(device, "t", orjson.dumps({"values": {"v": n}, "seq": n}), stored=True)
                for n in range(20)
                for device in ("d1", "poison", "d2")
            ]
            accepted = await asyncio.gather(*senders)
        # Every sender was let go, the poisoned ones told why.
        expected = [
            RejectReason.UNPROCESSABLE if device == "poison" else None
            for _ in range(20)
            for device in ("d1", "poison", "d2")
        ]
        assert accepted == expected
        for device in ("d1", "d2"):
            points = await store.query_range(RangeQuery(device, "v"))
            assert [value for _, value in points] == [float(n) for n in range(20)]
        assert metrics.rejections()[RejectReason.UNPROCESSABLE] == 20
        assert await store.query_range(RangeQuery("poison", "v")) == []
    finally:
        await backend.database.close()


async def test_messages_that_fail_every_time_are_acknowledged_and_the_device_goes_on(
    each_broker_hub: HubRuntime, unique_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = each_broker_hub

    async def failing(*_args: Any) -> None:
        raise RuntimeError("a bug in handling reported state")

    monkeypatch.setattr(hub.services.state, "reported", failing)
    api = await Api.login(hub.url)
    device = await connected_device(hub, unique_id, api)
    try:
        # More than Mosquitto's in-flight window to the hub: left unacknowledged, they would stop everything.
        poison = [device.client.publish(f"devices/{unique_id}/state/reported", b'{"x": 1}', qos=1) for _ in range(1100)]
        good = [
            device.client.publish(f"devices/{unique_id}/telemetry", orjson.dumps({"values": {"n": n}, "seq": n}), qos=1)
            for n in range(50)
        ]
        for info in [*poison, *good]:
            await asyncio.to_thread(info.wait_for_publish, 30)
        rejections = hub.services.metrics.rejections

        async def all_counted() -> bool:
            return rejections()[RejectReason.UNPROCESSABLE] == 1100

        await eventually(all_counted, within=30, what="every poison message refused and counted")

        async def stored() -> list[Any]:
            points = await hub.services.store.telemetry.query_range(RangeQuery(unique_id, "n", limit=100))
            return points if len(points) == 50 else []

        await eventually(stored, within=30, what="the device's telemetry stored after the poison")
    finally:
        await asyncio.to_thread(device.close)
        await api.close()

"""Telemetry to a real NATS JetStream: records, headers, tenants, and an outage that loses nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import orjson
import pytest

from tests.helpers.hub import Api, running_hub
from tests.helpers.mqtt import TestDevice
from tests.helpers.nats_server import NatsServer
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    yield server
    server.stop()


async def stream_records(url: str, stream: str) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Every record in ``stream``, read with a durable pull consumer (as a northbound app would)."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        sub = await js.pull_subscribe(">", durable="test-reader", stream=stream)
        out: list[tuple[dict[str, Any], dict[str, str]]] = []
        while len(out) < info.state.messages:
            for msg in await sub.fetch(min(500, info.state.messages - len(out)), timeout=5):
                out.append((orjson.loads(msg.data), dict(msg.headers or {})))
                await msg.ack()
        return out
    finally:
        await nc.close()


@pytest.fixture
async def hub_with_nats(tmp_path: Path, nats_server: NatsServer) -> AsyncIterator[Any]:
    async with running_hub(tmp_path / "data", stream=[nats_server.url]) as hub:
        yield hub


async def test_each_message_becomes_a_versioned_record_in_the_tenants_stream(
    hub_with_nats: Any, nats_server: NatsServer, unique_id: str
) -> None:
    api = await Api.login(hub_with_nats.url)
    try:
        secret = (await api.create_device(unique_id))["credentials"]["password"]
        device = await asyncio.to_thread(TestDevice(hub_with_nats.mqtt_port, unique_id, secret).connect)
        payload = [{"ts": 1_795_000_000_000, "values": {"t": 21.5, "on": True}, "seq": 7}, {"values": {"t": 22}}]
        await asyncio.to_thread(device.publish, f"devices/{unique_id}/telemetry", orjson.dumps(payload))
        await asyncio.to_thread(device.close)
    finally:
        await api.close()
    [(record, headers)] = await stream_records(nats_server.url, "fieldhub_default")
    assert record["schema_version"] == 1 and record["tenant"] == "default" and record["device_id"] == unique_id
    assert [(r["key"], r["value"], r["seq"]) for r in record["readings"]] == [
        ("t", 21.5, 7),
        ("on", True, 7),
        ("t", 22.0, None),
    ]
    assert headers["Fieldhub-Tenant"] == "default" and headers["Fieldhub-Device"] == unique_id
    assert headers["Fieldhub-Schema"] == "1"


async def test_a_nats_outage_holds_ingest_back_and_loses_nothing(
    hub_with_nats: Any, nats_server: NatsServer, unique_id: str
) -> None:
    api = await Api.login(hub_with_nats.url)
    secret = (await api.create_device(unique_id))["credentials"]["password"]
    device = await asyncio.to_thread(TestDevice(hub_with_nats.mqtt_port, unique_id, secret).connect)
    topic = f"devices/{unique_id}/telemetry"
    stored = hub_with_nats.services.metrics.registry.get_sample_value
    try:
        await asyncio.to_thread(device.publish, topic, orjson.dumps({"values": {"i": 0}, "seq": 0}))
        await asyncio.to_thread(nats_server.stop)
        # While NATS is down the hub keeps the messages and does not acknowledge them.
        pending = [
            device.client.publish(topic, orjson.dumps({"values": {"i": i}, "seq": i}), qos=1) for i in range(1, 51)
        ]

        async def held_back() -> bool:
            return (stored("fieldhub_ingest_messages_total") or 0) >= 2 and not any(p.is_published() for p in pending)

        await eventually(held_back, what="messages stored but not acknowledged while NATS is down")
        await asyncio.to_thread(nats_server.start)
        for info in pending:
            await asyncio.to_thread(info.wait_for_publish, 30)
            assert info.is_published()
    finally:
        await asyncio.to_thread(device.close)
        await api.close()
    records = await stream_records(nats_server.url, "fieldhub_default")
    seqs = sorted(r["readings"][0]["seq"] for r, _ in records)
    # Everything arrived; a batch resent after the outage is dropped by JetStream's duplicate window.
    assert seqs == list(range(51))

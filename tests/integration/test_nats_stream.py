"""Telemetry to a real NATS JetStream: records, headers, tenants, and an outage that loses nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers.hub import Api, running_hub
from tests.helpers.mqtt import TestDevice
from tests.helpers.nats_server import NatsServer, wait_for_records

pytestmark = pytest.mark.timeout(90)


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
    [(record, headers)] = await wait_for_records(nats_server.url, "fieldhub_default", 1)
    assert record["schema_version"] == 1 and record["tenant"] == "default" and record["device_id"] == unique_id
    assert [(r["key"], r["value"], r["seq"]) for r in record["readings"]] == [
        ("t", 21.5, 7),
        ("on", True, 7),
        ("t", 22.0, None),
    ]
    assert headers["Fieldhub-Tenant"] == "default" and headers["Fieldhub-Device"] == unique_id
    assert headers["Fieldhub-Schema"] == "1"

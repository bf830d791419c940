"""Telemetry to a Kafka-protocol broker (Tansu): records, keys, headers, read by a consumer group.

Outages run against a real Apache Kafka: see test_stream_outages.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from tests.helpers.hub import connected_device, running_hub
from tests.helpers.kafka_topic import read_records
from tests.helpers.tansu import TansuBroker

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def hub_with_kafka(tmp_path: Any, kafka: TansuBroker) -> AsyncIterator[Any]:
    async with running_hub(tmp_path / "data", stream=[f"kafka://{kafka.bootstrap}"]) as hub:
        yield hub


async def test_records_are_keyed_by_device_with_headers(
    hub_with_kafka: Any, kafka: TansuBroker, unique_id: str
) -> None:
    device = await connected_device(hub_with_kafka, unique_id)
    try:
        for i in range(3):
            body = orjson.dumps({"values": {"t": 20 + i}, "seq": i})
            await asyncio.to_thread(device.publish, f"devices/{unique_id}/telemetry", body)
    finally:
        await asyncio.to_thread(device.close)
    records = await asyncio.to_thread(
        read_records, kafka.bootstrap, "fieldhub.default.telemetry", lambda got: len(got) >= 3
    )
    assert [r["readings"][0]["value"] for r, _, _ in records] == [20.0, 21.0, 22.0]  # one key: one partition, in order
    record, key, head = records[0]
    assert record["schema_version"] == 1 and record["device_id"] == unique_id and key == unique_id.encode()
    assert head == {"Fieldhub-Tenant": b"default", "Fieldhub-Device": unique_id.encode(), "Fieldhub-Schema": b"1"}

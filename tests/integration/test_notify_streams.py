"""Alarm notifications written to the hub's real northbound streams: NATS JetStream and a Kafka-protocol broker.

The hub started with ``stream`` sends ``stream`` channels itself: a test makes the channel and records the event
the alarm engine would.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from cloud.runtime import HubRuntime
from contracts.alarms import Alarm, AlarmState, Severity
from contracts.channels import ChannelCreate, StreamTarget
from hub.errors import InvalidInput
from hub.streams.nats import alarms_stream_name
from tests.helpers.hub import running_hub
from tests.helpers.kafka_topic import read_records
from tests.helpers.nats_server import NatsServer, wait_for_records
from tests.helpers.tansu import TansuBroker
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)

#: The ``[notify]`` settings: a stream still starting up is tried again soon.
FAST: dict[str, Any] = {"attempts": 20, "backoff_s": 0.05, "backoff_cap_s": 0.5, "timeout_s": 20.0}


async def tell_stream_channel(hub: HubRuntime) -> tuple[str, dict[str, Any]]:
    """A new stream channel of ``default``, and the alarm of the event recorded naming it (as the engine does)."""
    made = await hub.services.channels.create("default", ChannelCreate(name="north", target=StreamTarget()))
    now = int(time.time() * 1000)
    alarm = Alarm(
        id=f"al-{uuid.uuid4().hex[:12]}",
        tenant="default",
        rule="too-hot",
        rule_name="Too hot",
        device="d1",
        key="temp",
        severity=Severity.MAJOR,
        state=AlarmState.ACTIVE,
        message="Too hot",
        value=31.5,
        raised=now,
        updated=now,
    ).model_dump(mode="json", exclude={"history"})
    data = {"alarm": alarm, "notify": [made.id]}
    hub.services.events.record("alarm.raised", "default", message="active: Too hot", node="d1", data=data)
    return made.id, alarm


async def delivered_once(hub: HubRuntime, channel_id: str) -> None:
    async def counted() -> bool:
        return (await hub.services.channels.get(channel_id, "default")).deliveries.delivered >= 1

    await eventually(counted, what=f"the delivery to {channel_id} counted")
    deliveries = (await hub.services.channels.get(channel_id, "default")).deliveries
    assert (deliveries.delivered, deliveries.dropped) == (1, 0)


async def test_a_notification_becomes_a_record_in_the_alarm_stream(tmp_path: Path, nats_server: NatsServer) -> None:
    async with running_hub(tmp_path / "data", stream=[nats_server.url], notify=FAST) as hub:
        channel_id, alarm = await tell_stream_channel(hub)
        [(record, headers)] = await wait_for_records(nats_server.url, alarms_stream_name("default"), 1)
        assert record["kind"] == "alarm.raised" and record["alarm"]["id"] == alarm["id"]
        assert headers["Fieldhub-Tenant"] == "default" and headers["Fieldhub-Device"] == "d1"
        assert headers["Nats-Msg-Id"] == record["id"]
        await delivered_once(hub, channel_id)


async def test_a_notification_goes_to_the_tenants_alarms_topic(tmp_path: Path, kafka: TansuBroker) -> None:
    async with running_hub(tmp_path / "data", stream=[f"kafka://{kafka.bootstrap}"], notify=FAST) as hub:
        channel_id, alarm = await tell_stream_channel(hub)
        records = await asyncio.to_thread(
            read_records, kafka.bootstrap, "fieldhub.default.telemetry.alarms", lambda got: len(got) >= 1, 40.0
        )
        record, key, head = records[0]
        assert record["alarm"]["id"] == alarm["id"] and key == b"d1"
        assert head["Fieldhub-Record"] == b"alarm"
        await delivered_once(hub, channel_id)


async def test_stream_channels_are_refused_without_a_stream(hub: HubRuntime) -> None:
    with pytest.raises(InvalidInput, match="no stream"):
        await hub.services.channels.create("default", ChannelCreate(name="north", target=StreamTarget()))

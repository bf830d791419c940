"""A stream that goes away never stops ingest: real Apache Kafka and NATS stopped for a minute, then back.

Devices keep being acknowledged throughout (a message is acknowledged once stored), the sink's
errors are logged at a bounded rate, and afterwards every reading is in the stream in the
device's order. SIGTERM during an outage exits promptly; the backlog follows after the restart.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cloud.runtime import HubRuntime
from tests.helpers.apache_kafka import ApacheKafka
from tests.helpers.hub import connected_device, running_hub
from tests.helpers.kafka_topic import read_records, seqs_of
from tests.helpers.mqtt import TestDevice
from tests.helpers.nats_server import NatsServer, stream_records
from tests.helpers.process import logged_in, start_hub
from tests.helpers.steady import SteadyDevice
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

OUTAGE_S = 60.0
TOPIC = "fieldhub.default.telemetry"
#: Warnings the hub may log about one sink in a minute-long outage (each source is rate limited).
MAX_OUTAGE_LINES = 12


@pytest.fixture
def apache_kafka(tmp_path: Path) -> Iterator[ApacheKafka]:
    with ApacheKafka(tmp_path / "kafka") as kafka:
        yield kafka


async def _health(hub: HubRuntime) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=hub.url) as http:
        body: dict[str, Any] = (await http.get("/healthz")).json()
        return body


async def _ride_out(
    hub: HubRuntime,
    device_id: str,
    caplog: pytest.LogCaptureFixture,
    stop_stream: Callable[[], None],
    start_stream: Callable[[], None],
) -> int:
    """Publish steadily through an outage of the stream; return how many messages were published."""
    device = await connected_device(hub, device_id)
    steady = SteadyDevice(device)
    done = asyncio.Event()
    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(steady.run(done))
            await eventually(lambda: _true(steady.acknowledged() >= 20), what="the first messages acknowledged")
            caplog.clear()
            await asyncio.to_thread(stop_stream)
            down = time.monotonic()
            health = await eventually(
                lambda: _degraded(hub), within=OUTAGE_S, what="/healthz to show the stream down and behind"
            )
            assert health["status"] == "degraded" and health["streams"][0]["lag_batches"] > 0
            await asyncio.sleep(OUTAGE_S - (time.monotonic() - down))  # the outage lasts a minute: time is the point
            during = steady.acknowledged()
            await asyncio.to_thread(start_stream)
            done.set()
        await eventually(lambda: _true(steady.all_acknowledged()), what="every message acknowledged")
    finally:
        await asyncio.to_thread(device.close)
    # Ingest went on at full pace: every message acknowledged within moments, also while the stream was away.
    assert during >= OUTAGE_S / 0.05 * 0.8
    assert steady.longest_wait() < 5.0, f"a message waited {steady.longest_wait():.1f}s for its acknowledgement"
    outage_lines = [r for r in caplog.records if r.name.startswith("hub.streams") and r.levelno >= logging.WARNING]
    assert 0 < len(outage_lines) <= MAX_OUTAGE_LINES, [r.getMessage() for r in outage_lines]
    return steady.published


async def _true(value: bool) -> bool:
    return value


async def _degraded(hub: HubRuntime) -> dict[str, Any] | None:
    health = await _health(hub)
    stream = health["streams"][0]
    return health if stream["state"] == "down" and stream["lag_batches"] > 0 else None


async def _caught_up(hub: HubRuntime) -> bool:
    health = await _health(hub)
    return bool(health["status"] == "ok" and health["streams"][0]["lag_batches"] == 0)


def _in_device_order(seqs: list[int], published: int) -> None:
    """Every message is there, first occurrences in order (a batch sent again may repeat)."""
    assert list(dict.fromkeys(seqs)) == list(range(published))


async def test_a_minute_without_kafka_stops_nothing_and_loses_nothing(
    tmp_path: Path, apache_kafka: ApacheKafka, unique_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_hub(tmp_path / "data", stream=[f"kafka://{apache_kafka.bootstrap}"]) as hub:
        published = await _ride_out(hub, unique_id, caplog, apache_kafka.stop, apache_kafka.start)
        await eventually(lambda: _caught_up(hub), within=90, what="the stream to take the backlog")
    records = await asyncio.to_thread(
        read_records, apache_kafka.bootstrap, TOPIC, lambda got: set(seqs_of(got)) >= set(range(published))
    )
    _in_device_order(seqs_of(records), published)


async def test_a_minute_without_nats_stops_nothing_and_loses_nothing(
    tmp_path: Path, nats_server: NatsServer, unique_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_hub(tmp_path / "data", stream=[nats_server.url]) as hub:
        published = await _ride_out(hub, unique_id, caplog, nats_server.stop, nats_server.start)
        await eventually(lambda: _caught_up(hub), within=90, what="the stream to take the backlog")
    seqs = [record["readings"][0]["seq"] for record, _ in await stream_records(nats_server.url, "fieldhub_default")]
    _in_device_order(seqs, published)


def test_sigterm_during_an_outage_exits_at_once_and_the_backlog_follows_the_restart(
    tmp_path: Path, apache_kafka: ApacheKafka, unique_id: str
) -> None:
    data = tmp_path / "data"
    stream = f"kafka://{apache_kafka.bootstrap}"
    apache_kafka.stop()
    hub = start_hub(data, "--stream", stream)
    try:
        with logged_in(hub.url) as http:
            created = http.post("/api/v1/devices", json={"id": unique_id, "name": unique_id})
            assert created.status_code == 201, created.text
            secret = created.json()["credentials"]["password"]
        device = TestDevice(hub.mqtt_port, unique_id, secret).connect()
        try:
            for seq in range(50):
                device.publish(f"devices/{unique_id}/telemetry", orjson.dumps({"values": {"i": seq}, "seq": seq}))
        finally:
            device.close()
        started = time.monotonic()
        output = hub.stop(signal.SIGTERM)
        took = time.monotonic() - started
    finally:
        if hub.proc.poll() is None:
            hub.proc.kill()
    assert hub.proc.returncode == 0, output
    assert took < 10.0, f"the hub took {took:.1f}s to exit while Kafka was down:\n{output}"
    apache_kafka.start()
    again = start_hub(data, "--stream", stream)
    try:
        records = read_records(
            apache_kafka.bootstrap, TOPIC, lambda got: set(seqs_of(got)) >= set(range(50)), within=90
        )
    finally:
        again.stop(signal.SIGTERM)
    _in_device_order(seqs_of(records), 50)

"""Ingest through the real broker: good data stored, every kind of bad input refused and counted."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest

from cloud.runtime import HubRuntime
from tests.helpers.hub import Api, connected_device, running_hub
from tests.helpers.mqtt import TestDevice
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)


async def series(api: Api, device_id: str, key: str, **params: Any) -> list[dict[str, Any]]:
    r = await api.http.get(f"/api/v1/devices/{device_id}/telemetry", params={"key": key, **params})
    assert r.status_code == 200, r.text
    points: list[dict[str, Any]] = r.json()["points"]
    return points


async def wait_points(api: Api, device_id: str, key: str, count: int) -> list[dict[str, Any]]:
    async def enough() -> list[dict[str, Any]]:
        points = await series(api, device_id, key, limit=count + 100)
        return points if len(points) >= count else []

    return await eventually(enough, what=f"{count} points of {key}")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def test_single_object_and_batch_are_stored(hub: HubRuntime, api: Api, unique_id: str) -> None:
    device = await connected_device(hub, api=api, device_id=unique_id)
    topic = f"devices/{unique_id}/telemetry"
    t0 = now_ms() - 10_000
    try:
        await asyncio.to_thread(
            device.publish, topic, orjson.dumps({"ts": t0, "values": {"temp": 21.5, "door": True, "mode": "eco"}})
        )
        batch = [{"ts": t0 + i, "values": {"temp": 22 + i}, "seq": i} for i in range(1, 51)]
        await asyncio.to_thread(device.publish, topic, orjson.dumps(batch))
        await asyncio.to_thread(device.publish, topic, b'{"ts": "2026-01-01T00:00:00Z", "values": {"iso": 1}}')
    finally:
        await asyncio.to_thread(device.close)
    points = await wait_points(api, unique_id, "temp", 51)
    assert [p["value"] for p in points] == [21.5] + [float(22 + i) for i in range(1, 51)]
    latest = (await api.http.get(f"/api/v1/devices/{unique_id}/latest")).json()["values"]
    assert latest["door"]["value"] is True and latest["mode"]["value"] == "eco"
    assert latest["temp"]["value"] == 72.0
    iso = await wait_points(api, unique_id, "iso", 1)
    assert iso[0]["ts"] == "2026-01-01T00:00:00.000Z"


async def test_missing_ts_gets_hub_time(hub: HubRuntime, api: Api, unique_id: str) -> None:
    device = await connected_device(hub, api=api, device_id=unique_id)
    before = now_ms()
    try:
        await asyncio.to_thread(device.publish, f"devices/{unique_id}/telemetry", b'{"values": {"x": 1}}')
    finally:
        await asyncio.to_thread(device.close)
    points = await wait_points(api, unique_id, "x", 1)
    stamped = await series(api, unique_id, "x", start=str(before))
    assert len(points) == 1 and len(stamped) == 1


async def test_duplicates_by_seq_are_dropped(hub: HubRuntime, api: Api, unique_id: str) -> None:
    device = await connected_device(hub, api=api, device_id=unique_id)
    topic = f"devices/{unique_id}/telemetry"
    message = orjson.dumps({"ts": now_ms() - 1000, "values": {"v": 1}, "seq": 7})
    try:
        for _ in range(3):
            await asyncio.to_thread(device.publish, topic, message)
        # Same seq without ts: a redelivery the hub stamps differently is still recognised.
        await asyncio.to_thread(device.publish, topic, b'{"values": {"v": 1}, "seq": 7}')
        await asyncio.to_thread(device.publish, topic, b'{"values": {"v": 2}, "seq": 8}')
    finally:
        await asyncio.to_thread(device.close)
    await wait_points(api, unique_id, "v", 2)

    async def counted() -> bool:
        stats = (await api.http.get("/api/v1/ingest/stats")).json()
        return bool(stats["duplicates"] >= 3)

    await eventually(counted, what="duplicates counted")
    assert len(await series(api, unique_id, "v")) == 2


BAD_PAYLOADS = [
    (b"not json", "malformed_json"),
    (b'{"values": {"t": 1}', "malformed_json"),
    (b"[]", "schema"),
    (b'"just a string"', "schema"),
    (b'{"values": {}}', "schema"),
    (b'{"values": {"t": [1, 2]}}', "schema"),
    (b'{"values": {"t": {"nested": 1}}}', "schema"),
    (b'{"values": {"t": null}}', "schema"),
    (b'{"values": {"bad key!": 1}}', "schema"),
    (b'{"values": {"t": 1}, "extra": 1}', "schema"),
    (b'{"values": {"t": 1}, "seq": -1}', "schema"),
    (b'{"values": {"t": 1}, "seq": "7"}', "schema"),
    (b'{"values": {"t": 1}, "ts": "yesterday"}', "schema"),
    (b'{"values": {"t": 1}, "ts": "2026-01-01T00:00:00"}', "schema"),
    (b'{"values": {"t": 1}, "ts": 1.5e12}', "schema"),
    (b'{"values": {"t": "' + b"x" * 300 + b'"}}', "schema"),
    (b'{"values": {"t": 1}, "ts": 1732270000}', "ts_out_of_range"),
    (b'{"values": {"t": 1}, "ts": 99999999999999}', "ts_in_future"),
    (orjson.dumps({"values": {f"k{i}": i for i in range(1001)}}), "too_many_values"),
    (orjson.dumps([{"values": {"a": 1}}] * 1001), "too_many_values"),
    (b'{"values": {"big": "' + b"x" * (256 * 1024) + b'"}}', "payload_too_large"),
]


async def test_bad_payloads_are_refused_counted_and_never_stop_the_pipeline(
    hub: HubRuntime, api: Api, unique_id: str
) -> None:
    device = await connected_device(hub, api=api, device_id=unique_id)
    topic = f"devices/{unique_id}/telemetry"
    before = hub.services.metrics.rejections()
    try:
        for index, (payload, _) in enumerate(BAD_PAYLOADS):
            await asyncio.to_thread(device.publish, topic, payload)
            # A good message after every bad one: the pipeline keeps going and loses nothing.
            await asyncio.to_thread(device.publish, topic, orjson.dumps({"values": {"good": index}, "seq": index}))
    finally:
        await asyncio.to_thread(device.close)
    points = await wait_points(api, unique_id, "good", len(BAD_PAYLOADS))
    assert [p["value"] for p in points] == [float(i) for i in range(len(BAD_PAYLOADS))]
    after = hub.services.metrics.rejections()
    expected: dict[str, int] = {}
    for _, reason in BAD_PAYLOADS:
        expected[reason] = expected.get(reason, 0) + 1
    assert {k: after[k] - before[k] for k in expected} == expected
    latest = (await api.http.get(f"/api/v1/devices/{unique_id}/latest")).json()["values"]
    assert set(latest) == {"good"}, "a refused message left data behind"
    stats = (await api.http.get("/api/v1/ingest/stats")).json()
    assert stats["rejected"]["schema"] >= expected["schema"]
    metrics = (await api.http.get("/metrics")).text
    assert 'fieldhub_ingest_rejected_total{reason="malformed_json"}' in metrics


async def test_many_devices_connect_at_once(hub: HubRuntime, api: Api, unique_id: str) -> None:
    count = 100
    ids = [f"{unique_id}-{i:03d}" for i in range(count)]
    secrets = [(await api.create_device(d))["credentials"]["password"] for d in ids]
    devices = [TestDevice(hub.mqtt_port, d, s) for d, s in zip(ids, secrets, strict=True)]
    loop = asyncio.get_running_loop()
    # One thread per client so that all 100 really connect at the same time.
    with ThreadPoolExecutor(max_workers=count) as pool:
        results = await asyncio.gather(*(loop.run_in_executor(pool, d.connect) for d in devices))
        assert len(results) == count
        await asyncio.gather(
            *(
                loop.run_in_executor(pool, d.publish, f"devices/{d.client_id}/telemetry", b'{"values": {"n": 1}}')
                for d in devices
            )
        )
    try:

        async def all_online_and_stored() -> bool:
            r = await api.http.get("/api/v1/devices", params={"status": "online", "limit": 1000})
            online = {d["id"] for d in r.json()["items"]}
            stats = (await api.http.get("/api/v1/ingest/stats")).json()
            return set(ids) <= online and stats["messages"] >= count

        await eventually(all_online_and_stored, within=30, what="100 devices online with data")
    finally:
        await asyncio.gather(*(asyncio.to_thread(d.close) for d in devices))
    for device_id in ids[:5] + ids[-5:]:
        assert len(await series(api, device_id, "n")) == 1


async def test_publish_then_disconnect_at_once_loses_nothing(hub: HubRuntime, api: Api, unique_id: str) -> None:
    device = await connected_device(hub, api=api, device_id=unique_id)
    topic = f"devices/{unique_id}/telemetry"
    n = 2000

    def burst() -> None:
        last = None
        for i in range(n):
            last = device.client.publish(topic, orjson.dumps({"values": {"i": i}, "seq": i}), qos=1)
        assert last is not None
        last.wait_for_publish(30)
        device.close()

    await asyncio.to_thread(burst)
    points = await wait_points(api, unique_id, "i", n)
    assert len(points) == n


async def test_a_full_ingest_queue_holds_devices_back_and_loses_nothing(tmp_path: Path) -> None:
    # A queue of one message and one-point batches: the broker must wait for the store at every message.
    async with running_hub(tmp_path / "data", ingest={"queue_size": 1, "max_batch_points": 1}) as hub:
        api = await Api.login(hub.url)
        try:
            devices = [await connected_device(hub, api=api, device_id=f"bp-{i}") for i in range(2)]
            n = 300

            def burst(device: TestDevice) -> None:
                last = None
                for i in range(n):
                    payload = orjson.dumps({"values": {"i": i}, "seq": i})
                    last = device.client.publish(f"devices/{device.client_id}/telemetry", payload, qos=1)
                assert last is not None
                last.wait_for_publish(30)
                assert last.is_published()

            await asyncio.gather(*(asyncio.to_thread(burst, d) for d in devices))
            for device in devices:
                points = await wait_points(api, device.client_id, "i", n)
                assert [p["value"] for p in points] == [float(i) for i in range(n)]
                await asyncio.to_thread(device.close)
        finally:
            await api.close()


async def test_qos0_messages_are_stored_in_order(hub: HubRuntime, api: Api, unique_id: str) -> None:
    device = await connected_device(hub, api=api, device_id=unique_id)
    n = 500
    try:
        for i in range(n):
            device.client.publish(f"devices/{unique_id}/telemetry", orjson.dumps({"values": {"i": i}, "seq": i}), qos=0)
        points = await wait_points(api, unique_id, "i", n)
        assert [p["value"] for p in points] == [float(i) for i in range(n)]
        assert hub.services.metrics.registry.get_sample_value("fieldhub_mqtt_qos0_dropped_total") == 0
    finally:
        await asyncio.to_thread(device.close)


async def test_a_burst_of_readings_the_hub_stamps_is_kept_whole_and_in_order(
    each_broker_hub: HubRuntime, unique_id: str
) -> None:
    """A device without a clock flushes a thousand readings in one go: the hub keeps every one of them."""
    hub = each_broker_hub
    api = await Api.login(hub.url)
    device = await connected_device(hub, unique_id, api)
    topic = f"devices/{unique_id}/telemetry"
    try:
        sent = [device.client.publish(topic, orjson.dumps({"values": {"seqv": i}}), qos=1) for i in range(1000)]
        for info in sent:
            await asyncio.to_thread(info.wait_for_publish, 30)
            assert info.is_published()
        points = await wait_points(api, unique_id, "seqv", 1000)
        assert [p["value"] for p in points] == [float(i) for i in range(1000)]
        # Many of them share a millisecond, and none was taken for a redelivery of another.
        assert len({p["ts"] for p in points}) < 1000
        stats = (await api.http.get("/api/v1/ingest/stats")).json()
        assert stats["duplicates"] == 0 and stats["stored"] == 1000
    finally:
        await asyncio.to_thread(device.close)
        await api.close()

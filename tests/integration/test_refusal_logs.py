"""Refused payloads are logged by device id, topic and reason, never with their content (docs/devices.md)."""

from __future__ import annotations

import asyncio
import logging
import uuid

import orjson
import pytest

from cloud.runtime import HubRuntime
from contracts.errors import RejectReason
from tests.helpers.hub import Api
from tests.helpers.mqtt import TestDevice
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)


def _bad_telemetry(marker: str) -> dict[RejectReason, list[bytes]]:
    """Payloads that each carry ``marker`` where the parser would quote it, by the reason they are refused for."""
    return {
        RejectReason.MALFORMED_JSON: [b'{"values": {"pin": "' + marker.encode()],
        RejectReason.SCHEMA: [
            orjson.dumps({"values": {"t": 1}, marker: 1}),  # an unknown field
            orjson.dumps({"values": {f"-{marker}": 1}}),  # an invalid sensor name
            orjson.dumps({"ts": marker, "values": {"t": 1}}),  # a ts that is no RFC 3339
        ],
        RejectReason.PAYLOAD_TOO_LARGE: [orjson.dumps({"values": {"note": marker + "x" * 300_000}})],
        RejectReason.TOO_MANY_VALUES: [orjson.dumps({"values": {f"{marker}{i}": i for i in range(1001)}})],
        RejectReason.TS_OUT_OF_RANGE: [orjson.dumps({"ts": 1_700_000_000, "values": {marker: 1}})],
        RejectReason.TS_IN_FUTURE: [orjson.dumps({"ts": 9_000_000_000_000, "values": {marker: 1}})],
    }


def _count(hub: HubRuntime, name: str, **labels: str) -> float:
    return hub.services.metrics.registry.get_sample_value(name, labels) or 0.0


async def _publish(hub: HubRuntime, api: Api, device_id: str, topic: str, payload: bytes, **body: str) -> None:
    secret = (await api.create_device(device_id, **body))["credentials"]["password"]
    device = await asyncio.to_thread(TestDevice(hub.mqtt_port, device_id, secret).connect)
    try:
        await asyncio.to_thread(device.publish, topic, payload)
    finally:
        await asyncio.to_thread(device.close)


async def test_refused_payloads_are_logged_without_their_content(
    hub: HubRuntime, api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    marker = f"s3cret-{uuid.uuid4().hex}"
    for package in ("hub", "cloud", "contracts"):
        caplog.set_level(logging.DEBUG, logger=package)
    # One device per payload: refusals are logged at most once per device and reason in an interval.
    sent: list[tuple[str, RejectReason]] = []
    for reason, payloads in _bad_telemetry(marker).items():
        for payload in payloads:
            device_id = f"refused-{uuid.uuid4().hex[:10]}"
            await _publish(hub, api, device_id, f"devices/{device_id}/telemetry", payload)
            sent.append((device_id, reason))
    gateway = f"refused-gw-{uuid.uuid4().hex[:8]}"
    secret = (await api.create_device(gateway, kind="gateway"))["credentials"]["password"]
    device = await asyncio.to_thread(TestDevice(hub.mqtt_port, gateway, secret).connect)
    try:
        beat = orjson.dumps({"ts": 1, "agent_version": marker, "uptime_s": "long"})
        await asyncio.to_thread(device.publish, f"devices/{gateway}/heartbeat", beat)
        line = orjson.dumps({"ts": "yesterday", "level": "INFO", "logger": "x", "message": f"password={marker}"})
        await asyncio.to_thread(device.publish, f"devices/{gateway}/logs", line)
        reported = b'{"wifi_password": "' + marker.encode()
        await asyncio.to_thread(device.publish, f"devices/{gateway}/state/reported", reported)
    finally:
        await asyncio.to_thread(device.close)

    async def all_counted() -> bool:
        telemetry = sum(_count(hub, "fieldhub_ingest_rejected_total", reason=r.value) for r in RejectReason)
        heartbeats = _count(hub, "fieldhub_heartbeats_refused_total")
        log_lines = _count(hub, "fieldhub_node_logs_refused_total")
        return (telemetry, heartbeats, log_lines) == (len(sent), 1, 1)

    await eventually(all_counted, what="every refusal counted")

    async def state_refused() -> bool:  # reported state has no counter: its log line is the sign
        return any(f"refused reported state of {gateway}" in r.getMessage() for r in caplog.records)

    await eventually(state_refused, what="the reported state refused")

    ours = [r for r in caplog.records if r.name.split(".")[0] in ("hub", "cloud", "contracts")]
    text = "\n".join(
        r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "") for r in ours
    )
    assert marker not in text
    messages = [r.getMessage() for r in ours]
    for device_id, reason in sent:
        said = [m for m in messages if device_id in m and f"devices/{device_id}/telemetry" in m]
        assert said and reason.value in said[0], (device_id, reason, said)
    for topic, reason in ((f"devices/{gateway}/heartbeat", "schema"), (f"devices/{gateway}/logs", "schema")):
        assert any(topic in m and reason in m for m in messages), (topic, messages)

"""The freezer story end to end, through the HTTP API of a real hub: a profile and a rule "temperature > -10 for
5 s", a real MQTT device, a real webhook receiver and a real SMTP server; and a channel that is down, which gets
its retries while ingest goes on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from cloud.runtime import HubRuntime
from hub.events.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from hub.store.events import NewEvent
from hub.store.sqlite.backend import sqlite_backend
from tests.helpers.hub import Api, running_hub
from tests.helpers.mqtt import TestDevice
from tests.helpers.receiver import receiver
from tests.helpers.smtp import Mailbox, smtp_server
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def mail_hub(tmp_path: Path) -> AsyncIterator[tuple[HubRuntime, Mailbox]]:
    with smtp_server(asyncio.get_running_loop()) as (mailbox, port):
        smtp = {"host": "127.0.0.1", "port": port, "starttls": False, "sender": "alarms@fieldhub.test"}
        notify = {"backoff_s": 0.05, "backoff_cap_s": 0.2, "attempts": 4}
        async with running_hub(tmp_path / "data", smtp=smtp, notify=notify) as hub:
            yield hub, mailbox


async def publish(device: TestDevice, temperature: float) -> None:
    payload = orjson.dumps({"values": {"temperature": temperature, "door": False}})
    await asyncio.to_thread(device.publish, f"devices/{device.client_id}/telemetry", payload)


async def test_a_warm_freezer_raises_one_alarm_told_by_webhook_and_mail_then_acknowledged_and_cleared(
    mail_hub: tuple[HubRuntime, Mailbox], unique_id: str
) -> None:
    hub, mailbox = mail_hub
    api = await Api.login(hub.url)
    try:
        keys = {"temperature": {"type": "number", "unit": "°C"}, "door": {"type": "boolean"}}
        await api.created("/api/v1/profiles", {"id": "freezer", "name": "Freezer", "keys": keys, "strict": True})
        async with receiver([200]) as (hook, url):
            channel = await api.created("/api/v1/channels", {"name": "ops", "target": {"kind": "webhook", "url": url}})
            mail = await api.created(
                "/api/v1/channels", {"name": "mail", "target": {"kind": "email", "to": ["ops@fieldhub.test"]}}
            )
            rule = await api.created(
                "/api/v1/rules",
                {
                    "name": "Freezer too warm",
                    "profile": "freezer",
                    "key": "temperature",
                    "kind": "threshold",
                    "op": ">",
                    "value": -10,
                    "for_s": 5,
                    "severity": "critical",
                    "message": "{device_name} is at {value:.1f} {unit} ({threshold})",
                    "channels": [channel["id"], mail["id"]],
                    "notify_on": ["active", "cleared"],
                },
            )
            secret = (await api.create_device(unique_id, profile="freezer"))["credentials"]["password"]
            device = await asyncio.to_thread(TestDevice(hub.mqtt_port, unique_id, secret).connect)
            try:
                await publish(device, -18.0)
                started = time.monotonic()
                # Above the threshold, a reading every half second, until the alarm is told.
                while hook.delivered.empty():
                    await publish(device, -4.0)
                    assert time.monotonic() - started < 30, "no alarm after 30 s above the threshold"
                    await asyncio.sleep(0.5)  # the device's sampling interval
                told_after = time.monotonic() - started
                headers, body = hook.delivered.get_nowait()
                assert told_after >= 4.5, f"told after {told_after:.1f} s, before the condition held 5 s"
                assert verify(
                    channel["secret"], headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER], now=time.time()
                )
                notification = orjson.loads(body)
                alarm = notification["alarm"]
                assert notification["kind"] == "alarm.raised" and alarm["rule"] == rule["id"]
                assert alarm["device"] == unique_id and alarm["severity"] == "critical" and alarm["value"] == -4.0
                assert alarm["message"] == f"{unique_id} is at -4.0 °C (> -10)"
                recipients, message = await asyncio.wait_for(mailbox.received.get(), 15)
                assert recipients == ["ops@fieldhub.test"] and alarm["message"] in message["Subject"]

                for _ in range(3):  # still above: no second alarm
                    await publish(device, -3.0)
                listed = (await api.http.get("/api/v1/alarms", params={"device": unique_id})).json()
                assert listed["total"] == 1 and listed["items"][0]["state"] == "active"

                acked = await api.http.post(f"/api/v1/alarms/{alarm['id']}/ack", json={"note": "on my way"})
                assert acked.status_code == 200, acked.text
                assert acked.json()["state"] == "acknowledged" and acked.json()["acknowledged_by"] == "admin"
                await publish(device, -19.0)

                async def cleared() -> dict[str, Any] | None:
                    found = (await api.http.get(f"/api/v1/alarms/{alarm['id']}")).json()
                    return found if found["state"] == "cleared" else None

                done = await eventually(cleared, what="the alarm cleared")
                assert [c["state"] for c in done["history"]] == ["active", "acknowledged", "cleared"]
                assert done["history"][1]["by"] == "admin" and done["history"][1]["note"] == "on my way"
                _, body = await asyncio.wait_for(hook.delivered.get(), 15)
                assert orjson.loads(body)["kind"] == "alarm.cleared", "the clear was not told"
                assert hook.delivered.empty(), "the acknowledgement was told, though the rule does not ask for it"
            finally:
                await asyncio.to_thread(device.close)
    finally:
        await api.close()


async def test_a_channel_that_is_down_gets_retries_and_ingest_goes_on(tmp_path: Path, unique_id: str) -> None:
    hold = asyncio.Event()
    notify = {"backoff_s": 0.05, "backoff_cap_s": 0.2, "timeout_s": 60}
    async with running_hub(tmp_path / "data", notify=notify) as hub, receiver([503, 200], hold=hold) as (hook, url):
        api = await Api.login(hub.url)
        target = {"kind": "webhook", "url": url}
        channel = await api.created("/api/v1/channels", {"name": "flaky", "target": target})
        rule = {"name": "any", "selector": {}, "key": "t", "kind": "threshold", "op": ">", "value": 0}
        await api.created("/api/v1/rules", {**rule, "channels": [channel["id"]]})
        secret = (await api.create_device(unique_id))["credentials"]["password"]
        device = await asyncio.to_thread(TestDevice(hub.mqtt_port, unique_id, secret).connect)
        topic = f"devices/{unique_id}/telemetry"
        try:
            await asyncio.to_thread(device.publish, topic, orjson.dumps({"values": {"t": 1}}))
            await eventually(lambda: _asked(hook), what="the channel's first attempt, which the endpoint holds")
            # The endpoint takes the connection and does not answer: every reading sent meanwhile is stored.
            for seq in range(200):
                await asyncio.to_thread(device.publish, topic, orjson.dumps({"values": {"n": seq}, "seq": seq}))

            async def stored() -> bool:
                params = {"key": "n", "limit": 1000}
                points = (await api.http.get(f"/api/v1/devices/{unique_id}/telemetry", params=params)).json()
                return len(points["points"]) == 200

            await eventually(stored, what="all 200 readings stored while the channel hangs")
            assert not hold.is_set() and hook.delivered.empty()
            hold.set()  # the endpoint answers 503 to that attempt, then 200 to the next
            await asyncio.wait_for(hook.delivered.get(), 30)
            deliveries = (await api.http.get(f"/api/v1/channels/{channel['id']}")).json()["deliveries"]
            assert deliveries["failed_attempts"] == 1 and deliveries["delivered"] == 1 and deliveries["dropped"] == 0
        finally:
            await asyncio.to_thread(device.close)
            await api.close()


async def _asked(hook: Any) -> bool:
    return len(hook.requests) >= 1


async def test_alarm_changes_made_while_the_hub_was_down_are_told_after_its_restart(
    tmp_path: Path, unique_id: str
) -> None:
    data = tmp_path / "data"
    async with receiver([200]) as (hook, url):
        async with running_hub(data) as hub:
            api = await Api.login(hub.url)
            target = {"kind": "webhook", "url": url}
            channel = (await api.created("/api/v1/channels", {"name": "ops", "target": target}))["id"]
            await api.close()
        # While the hub is down an ingest replica records alarm changes (here: straight into the store).
        store = sqlite_backend(data / "fieldhub.db")
        await store.database.open()
        now = int(time.time() * 1000)
        try:
            await store.events.append(
                [
                    alarm_event(f"{unique_id}-stale", channel, now - 2 * 3600 * 1000),  # older than notify.catch_up_s
                    alarm_event(f"{unique_id}-fresh", channel, now),
                ]
            )
        finally:
            await store.database.close()
        async with running_hub(data):
            _, body = await asyncio.wait_for(hook.delivered.get(), 15)
            assert orjson.loads(body)["alarm"]["device"] == f"{unique_id}-fresh"
        assert hook.delivered.empty() and len(hook.requests) == 1, "the stale change was told, or one twice"


def alarm_event(device: str, channel: str, ts: int) -> NewEvent:
    alarm = {
        "id": f"al-{device}",
        "tenant": "default",
        "rule": "r",
        "rule_name": "R",
        "device": device,
        "key": "t",
        "severity": "major",
        "state": "active",
        "message": "m",
        "value": 1.0,
        "raised": ts,
        "updated": ts,
    }
    data = {"alarm": alarm, "notify": [channel]}
    return NewEvent(ts=ts, tenant="default", kind="alarm.raised", message="active: m", node=device, data=data)

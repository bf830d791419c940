"""Alarm notifications through a real hub's own wiring, to real receivers: HTTP, SMTP, MQTT.

Each hub is started with the ``[notify]`` (and ``[smtp]``) settings a test needs; channels are made through the
HTTP API; alarm events are recorded as the alarm engine records them (or raised by a real rule from a real
device's reading), and the hub's own dispatcher delivers them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from cloud.runtime import HubRuntime
from contracts.alarms import Alarm, AlarmState, RuleCreate, RuleKind, Severity
from contracts.channels import Deliveries
from hub.events.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.helpers.hub import Api, running_hub
from tests.helpers.mqtt import TestDevice
from tests.helpers.ports import free_port
from tests.helpers.receiver import receiver
from tests.helpers.smtp import smtp_server
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)

#: The ``[notify]`` settings of fast retries, so that a test sees several attempts in well under a second.
FAST: dict[str, Any] = {"attempts": 3, "backoff_s": 0.05, "backoff_cap_s": 0.2, "timeout_s": 2.0}

_KINDS = {AlarmState.ACTIVE: "alarm.raised", AlarmState.CLEARED: "alarm.cleared"}


@dataclass
class Room:
    """A running hub and an admin's API client to it."""

    hub: HubRuntime
    api: Api

    async def channel(self, target: dict[str, Any], tenant: str | None = None, **fields: Any) -> dict[str, Any]:
        """A new channel (of ``tenant``, else the admin's own), as the API answers it."""
        params = {"tenant": tenant} if tenant else None
        body = {"name": "channel", "target": target, **fields}
        response = await self.api.http.post("/api/v1/channels", json=body, params=params)
        assert response.status_code == 201, response.text
        made: dict[str, Any] = response.json()
        return made

    async def refused(self, target: dict[str, Any], tenant: str | None = None) -> str:
        """The message with which the API refuses to make a channel of ``target``."""
        params = {"tenant": tenant} if tenant else None
        response = await self.api.http.post("/api/v1/channels", json={"name": "x", "target": target}, params=params)
        assert response.status_code == 422, response.text
        message: str = response.json()["error"]["message"]
        return message

    async def webhook(self, url: str, tenant: str | None = None, rate_per_min: int = 30) -> tuple[str, str]:
        made = await self.channel({"kind": "webhook", "url": url}, tenant, rate_per_min=rate_per_min)
        assert made["secret"].startswith("whsec_")
        return made["id"], made["secret"]

    async def tenant(self, tenant: str) -> None:
        response = await self.api.http.post("/api/v1/tenants", json={"id": tenant, "name": tenant})
        assert response.status_code == 201, response.text

    async def get(self, channel_id: str, tenant: str | None = None) -> dict[str, Any]:
        params = {"tenant": tenant} if tenant else None
        response = await self.api.http.get(f"/api/v1/channels/{channel_id}", params=params)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def raise_alarm(
        self, notify: list[str], *, tenant: str = "default", state: AlarmState = AlarmState.ACTIVE, device: str = "d1"
    ) -> dict[str, Any]:
        """Record the event the alarm engine records (``hub.alarms.lifecycle``); the alarm as the event carries it."""
        now = int(time.time() * 1000)
        alarm = Alarm(
            id=f"al-{uuid.uuid4().hex[:12]}",
            tenant=tenant,
            rule="too-hot",
            rule_name="Too hot",
            device=device,
            key="temp",
            severity=Severity.CRITICAL,
            state=state,
            message=f"Too hot: temp of {device} is 31.5",
            value=31.5,
            raised=now,
            cleared=now if state is AlarmState.CLEARED else None,
            updated=now,
        )
        self.hub.services.events.record(
            _KINDS.get(state, "alarm.acknowledged"),
            tenant,
            message=f"{state.value}: {alarm.message}",
            node=device,
            data={"alarm": alarm.model_dump(mode="json", exclude={"history"}), "notify": notify},
        )
        return alarm.model_dump(mode="json", exclude={"history"})

    async def deliveries(self, channel_id: str, check: Callable[[Deliveries], bool]) -> Deliveries:
        """The channel's counts once ``check`` holds of them."""

        async def found() -> Deliveries | None:
            counted = Deliveries.model_validate((await self.get(channel_id))["deliveries"])
            return counted if check(counted) else None

        counted = await eventually(found, what=f"the deliveries of {channel_id}")
        assert counted is not None
        return counted


@asynccontextmanager
async def notifying(hub: HubRuntime) -> AsyncIterator[Room]:
    # Not hub.url: with public_url set that names the portal people open, not this test's hub.
    api = await Api.login(f"http://{hub.settings.local_host}:{hub.http_port}")
    try:
        yield Room(hub, api)
    finally:
        await api.close()


@asynccontextmanager
async def notifying_hub(tmp_path: Path, notify: dict[str, Any] = FAST, **settings: Any) -> AsyncIterator[Room]:
    """A hub that tries notifications as ``notify`` says."""
    async with running_hub(tmp_path / "data", notify=notify, **settings) as hub, notifying(hub) as room:
        yield room


@pytest.fixture
async def room(tmp_path: Path) -> AsyncIterator[Room]:
    async with notifying_hub(tmp_path) as made:
        yield made


async def test_a_webhook_gets_the_notification_signed_with_the_secret_told_once(room: Room) -> None:
    async with receiver([204]) as (endpoint, url):
        channel_id, secret = await room.webhook(url)
        assert "secret" not in await room.get(channel_id)
        alarm = room.raise_alarm([channel_id])
        headers, body = await asyncio.wait_for(endpoint.delivered.get(), 10)
        assert verify(secret, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER], now=time.time())
        assert not verify("whsec_wrong", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER], now=time.time())
        notification = orjson.loads(body)
        assert (notification["kind"], notification["alarm"]["id"], notification["alarm"]["device"]) == (
            "alarm.raised",
            alarm["id"],
            "d1",
        )
        assert headers["X-Fieldhub-Notification"] == notification["id"]
        assert headers["X-Fieldhub-Channel"] == channel_id
        counted = await room.deliveries(channel_id, lambda d: d.delivered >= 1)
        assert (counted.delivered, counted.failed_attempts, counted.last_error) == (1, 0, None)
        assert len(endpoint.requests) == 1  # one dispatcher: told once


async def test_an_email_arrives_with_severity_and_state_in_its_subject(tmp_path: Path) -> None:
    with smtp_server(asyncio.get_running_loop()) as (mailbox, port):
        smtp = {"host": "127.0.0.1", "port": port, "starttls": False, "sender": "hub@example.org"}
        async with notifying_hub(tmp_path, smtp=smtp, public_url="https://iot.example.org/") as room:
            made = await room.channel({"kind": "email", "to": ["ops@example.org", "oncall@example.org"]})
            assert made["secret"] is None
            alarm = room.raise_alarm([made["id"]])
            recipients, message = await asyncio.wait_for(mailbox.received.get(), 10)
            assert recipients == ["ops@example.org", "oncall@example.org"]
            assert message["Subject"] == "[CRITICAL] Too hot: temp of d1 is 31.5"
            assert message["From"] == "hub@example.org"
            text = message.get_content()
            assert "Device:    d1" in text and "Rule:      Too hot (too-hot)" in text and "Value:     31.5" in text
            assert f"https://iot.example.org/alarms/{alarm['id']}" in text

            room.raise_alarm([made["id"]], state=AlarmState.CLEARED)
            _, cleared = await asyncio.wait_for(mailbox.received.get(), 10)
            assert cleared["Subject"] == "[CRITICAL] Cleared: Too hot: temp of d1 is 31.5"
            counted = await room.deliveries(made["id"], lambda d: d.delivered >= 2)
            assert counted.delivered == 2 and mailbox.received.empty()


async def test_email_channels_are_refused_without_an_smtp_host(room: Room) -> None:
    assert "smtp" in await room.refused({"kind": "email", "to": ["a@example.org"]})


async def test_a_device_gets_its_alarms_over_mqtt_and_no_other_tenants_device_may_listen(
    each_broker_hub: HubRuntime, unique_id: str
) -> None:
    hub = each_broker_hub
    async with notifying(hub) as room:
        secret = (await room.api.create_device(unique_id))["credentials"]["password"]
        await room.tenant("tenant-b")
        other_id = f"{unique_id}-b"
        other_secret = (await room.api.create_device(other_id, tenant="tenant-b"))["credentials"]["password"]
        siren = await asyncio.to_thread(TestDevice(hub.mqtt_port, unique_id, secret).connect)
        intruder = await asyncio.to_thread(TestDevice(hub.mqtt_port, other_id, other_secret).connect)
        try:
            [granted] = await asyncio.to_thread(siren.subscribe, f"devices/{unique_id}/alarms")
            assert not granted.is_failure
            [refused] = await asyncio.to_thread(intruder.subscribe, f"devices/{unique_id}/alarms")
            assert refused.is_failure
            made = await room.channel({"kind": "mqtt", "device": unique_id})
            # A device of another tenant is no target, as if it did not exist.
            assert "no device" in await room.refused({"kind": "mqtt", "device": unique_id}, tenant="tenant-b")
            rule = await hub.services.rules.create(
                "default",
                RuleCreate(
                    name="Too hot",
                    selector={},
                    key="temp",
                    kind=RuleKind.THRESHOLD,
                    op=">",
                    value=30,
                    severity=Severity.CRITICAL,
                    channels=[made["id"]],
                ),
            )
            # The device's own reading raises the alarm it is then told of.
            reading = orjson.dumps({"values": {"temp": 31.5}})
            await asyncio.to_thread(siren.publish, f"devices/{unique_id}/telemetry", reading)
            message = await asyncio.to_thread(siren.next_message)
            assert message.topic == f"devices/{unique_id}/alarms" and not message.retain and message.qos == 1
            notification = orjson.loads(message.payload)
            alarm = notification["alarm"]
            assert notification["kind"] == "alarm.raised"
            assert (alarm["rule"], alarm["device"], alarm["value"]) == (rule.id, unique_id, 31.5)
            listed = (await room.api.http.get("/api/v1/alarms", params={"device": unique_id})).json()
            assert [found["id"] for found in listed["items"]] == [alarm["id"]]
            await room.deliveries(made["id"], lambda d: d.delivered == 1)
        finally:
            await asyncio.to_thread(siren.close)
            await asyncio.to_thread(intruder.close)


async def test_a_failing_webhook_is_retried_with_backoff_then_dropped_and_counted(room: Room) -> None:
    async with receiver([500, 503, 200]) as (endpoint, url):
        flaky, _ = await room.webhook(url)
        dead, _ = await room.webhook(f"http://127.0.0.1:{free_port()}/hook")
        room.raise_alarm([flaky, dead])
        _, body = await asyncio.wait_for(endpoint.delivered.get(), 10)
        assert [request[1] for request in endpoint.requests] == [body] * 3  # the same notification, three times
        counted = await room.deliveries(flaky, lambda d: d.delivered == 1)
        assert (counted.failed_attempts, counted.dropped, counted.last_error) == (2, 0, None)
        given_up = await room.deliveries(dead, lambda d: d.dropped == 1)
        assert (given_up.failed_attempts, given_up.delivered) == (FAST["attempts"], 0)
        assert given_up.last_error is not None and "ConnectError" in given_up.last_error


async def test_a_webhook_that_comes_back_gets_the_notification(tmp_path: Path) -> None:
    patient = {"attempts": 20, "backoff_s": 0.1, "backoff_cap_s": 0.2, "timeout_s": 2.0}
    port = free_port()
    async with notifying_hub(tmp_path, patient) as room:
        channel_id, _ = await room.webhook(f"http://127.0.0.1:{port}/hook")
        room.raise_alarm([channel_id])
        await room.deliveries(channel_id, lambda d: d.failed_attempts >= 2)  # refused, refused, ...
        async with receiver([200], port=port) as (endpoint, _):
            await asyncio.wait_for(endpoint.delivered.get(), 10)
            counted = await room.deliveries(channel_id, lambda d: d.delivered == 1)
            assert counted.dropped == 0 and counted.last_error is None


async def test_beyond_its_rate_a_channel_suppresses_and_counts(room: Room) -> None:
    async with receiver([204]) as (endpoint, url):
        channel_id, _ = await room.webhook(url, rate_per_min=2)
        for _ in range(5):
            room.raise_alarm([channel_id])
        counted = await room.deliveries(channel_id, lambda d: d.delivered == 2 and d.suppressed == 3)
        assert counted.failed_attempts == 0 and counted.dropped == 0 and len(endpoint.requests) == 2


async def test_a_full_queue_drops_the_oldest_waiting_notification_untried(tmp_path: Path) -> None:
    hold = asyncio.Event()
    notify = {**FAST, "timeout_s": 30.0, "queue": 1}
    async with notifying_hub(tmp_path, notify) as room, receiver([204], hold=hold) as (endpoint, url):
        channel_id, _ = await room.webhook(url)
        first = room.raise_alarm([channel_id])

        async def sending() -> bool:
            return len(endpoint.requests) == 1

        await eventually(sending, what="the first notification held by the endpoint")
        second, third = room.raise_alarm([channel_id]), room.raise_alarm([channel_id])
        # The second waited alone in the queue of one; the third pushed it out, unsent.
        counted = await room.deliveries(channel_id, lambda d: d.dropped == 1)
        assert (counted.failed_attempts, counted.delivered, counted.last_error) == (0, 0, None)
        hold.set()
        counted = await room.deliveries(channel_id, lambda d: d.delivered == 2)
        assert (counted.failed_attempts, counted.dropped) == (0, 1)
        told = [orjson.loads(body)["alarm"]["id"] for _, body in endpoint.requests]
        assert told == [first["id"], third["id"]] and second["id"] not in told


async def test_another_tenants_channel_named_in_an_event_is_not_used(room: Room) -> None:
    await room.tenant("tenant-b")
    async with receiver([204]) as (ours, our_url), receiver([204]) as (theirs, their_url):
        mine, _ = await room.webhook(our_url)
        foreign, _ = await room.webhook(their_url, tenant="tenant-b")
        room.raise_alarm([foreign, mine])
        await asyncio.wait_for(ours.delivered.get(), 10)
        await room.deliveries(mine, lambda d: d.delivered == 1)
        # Both ids were looked at before the first was sent: the foreign one was passed over.
        assert theirs.requests == []
        assert Deliveries.model_validate((await room.get(foreign, "tenant-b"))["deliveries"]) == Deliveries()
        patched = await room.api.http.patch(
            f"/api/v1/channels/{mine}", json={"target": {"kind": "email", "to": ["a@example.org"]}}
        )
        assert patched.status_code == 422 and "stays one" in patched.json()["error"]["message"]


async def test_a_hanging_channel_delays_no_other_channel_nor_recording(tmp_path: Path) -> None:
    hold = asyncio.Event()
    async with (
        notifying_hub(tmp_path, {**FAST, "timeout_s": 30.0}) as room,
        receiver([204]) as (healthy, healthy_url),
        receiver([204], hold=hold) as (hanging, hanging_url),
    ):
        stuck, _ = await room.webhook(hanging_url)
        alive, _ = await room.webhook(healthy_url)
        started = time.perf_counter()
        for _ in range(5):
            room.raise_alarm([stuck, alive])
        assert time.perf_counter() - started < 0.5  # a queue put each, whatever the channels do
        for _ in range(5):
            await asyncio.wait_for(healthy.delivered.get(), 10)
        assert len(hanging.requests) == 1 and not hold.is_set()  # still on its first attempt

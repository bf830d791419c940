"""Pure parts of alarm notifications: the token bucket, the e-mail's text, the notification of an event, and the
stream sender against fake streams."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts.alarms import Alarm, AlarmState, Severity
from contracts.channels import Channel, ChannelKind, StreamTarget
from contracts.events import Event, EventKind
from hub.errors import DeliveryFailed, SinkUnavailable
from hub.notify.dispatcher import notification_of
from hub.notify.mail import body, subject
from hub.notify.stream import StreamSender
from hub.ratelimit import TokenBucket

ALARM = Alarm(
    id="al-0123456789ab",
    tenant="acme",
    rule="too-hot",
    rule_name="Too hot",
    device="pump-7",
    key="temp",
    severity=Severity.MAJOR,
    state=AlarmState.ACTIVE,
    message="Too hot: temp of pump-7 is 31.5",
    value=31.5,
    raised=1_795_000_000_000,
    updated=1_795_000_000_000,
)


def test_a_bucket_lets_a_burst_through_then_refills_at_its_rate() -> None:
    bucket = TokenBucket(per_s=0.5, burst=2)
    assert [bucket.take(100.0) for _ in range(3)] == [True, True, False]
    assert not bucket.take(101.0)  # half a token back
    assert bucket.take(102.0)
    assert [bucket.take(1000.0) for _ in range(3)] == [True, True, False]  # never more than the burst


def test_the_subject_names_severity_and_a_state_other_than_active() -> None:
    assert subject(notification_of(_event(ALARM))) == "[MAJOR] Too hot: temp of pump-7 is 31.5"
    acknowledged = ALARM.model_copy(update={"state": AlarmState.ACKNOWLEDGED, "message": "two\nlines"})
    assert (
        subject(notification_of(_event(acknowledged, EventKind.ALARM_ACKNOWLEDGED)))
        == "[MAJOR] Acknowledged: two lines"
    )


def test_the_body_tells_what_where_and_when_and_links_only_with_a_public_url() -> None:
    cleared = ALARM.model_copy(update={"state": AlarmState.CLEARED, "cleared": 1_795_000_060_000, "cleared_by": "ann"})
    notification = notification_of(_event(cleared, EventKind.ALARM_CLEARED))
    text = body(notification, "https://iot.example.org/")
    assert text.startswith("Alarm cleared: Too hot: temp of pump-7 is 31.5\n")
    for line in (
        "Device:    pump-7",
        "Key:       temp",
        "Raised:    2026-11-18T11:06:40Z",
        "Cleared:   2026-11-18T11:07:40Z",
        " by ann",
    ):
        assert line in text
    assert "https://iot.example.org/alarms/al-0123456789ab" in text
    assert "portal" not in body(notification, None)


def test_an_event_without_an_alarm_makes_no_notification() -> None:
    with pytest.raises(ValidationError):
        notification_of(Event(id=1, ts=1, tenant="acme", kind=EventKind.ALARM_RAISED, message="x", data={}))


def _event(alarm: Alarm, kind: EventKind = EventKind.ALARM_RAISED) -> Event:
    data = {"alarm": alarm.model_dump(mode="json", exclude={"history"}), "notify": []}
    return Event(id=42, ts=alarm.updated, tenant=alarm.tenant, kind=kind, node=alarm.device, message="m", data=data)


class _Stream:
    """A stream sink that takes alarm records, or refuses them."""

    def __init__(self, name: str, *, up: bool = True) -> None:
        self.name = name
        self.up = up
        self.taken: list[tuple[str, str, str]] = []

    async def send_alarm(self, tenant: str, device_id: str, body: bytes, record_id: str) -> None:
        if not self.up:
            raise SinkUnavailable("no acknowledgement")
        self.taken.append((tenant, device_id, record_id))


async def test_a_stream_that_fails_fails_the_notification_for_the_dispatcher_to_send_again_to_all() -> None:
    taking, away = _Stream("kafka://a:9092"), _Stream("nats://b:4222", up=False)
    sender = StreamSender([taking, away])  # type: ignore[list-item]  # only send_alarm is used
    channel = Channel(
        id="ch-1", tenant="acme", name="north", kind=ChannelKind.STREAM, target=StreamTarget(), enabled=True,
        rate_per_min=30, created=1,
    )  # fmt: skip
    notification = notification_of(_event(ALARM))
    with pytest.raises(DeliveryFailed, match="nats://b:4222"):
        await sender.send(channel, None, notification)
    away.up = True
    await sender.send(channel, None, notification)  # the dispatcher's next attempt: the same id to every stream
    assert taking.taken == [("acme", "pump-7", "ev-42")] * 2 and away.taken == [("acme", "pump-7", "ev-42")]

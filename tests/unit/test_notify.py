"""Pure parts of alarm notifications: the token bucket, the e-mail's text, the notification of an event."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts.alarms import Alarm, AlarmState, Severity
from contracts.events import Event, EventKind
from hub.notify.dispatcher import notification_of
from hub.notify.mail import body, subject
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

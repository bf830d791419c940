"""The channel store's contract (channels per tenant, their secrets and delivery counters): every backend passes it."""

from __future__ import annotations

import pytest

from contracts.channels import Channel, ChannelKind, Deliveries, EmailTarget, MqttTarget, Target, WebhookTarget
from hub.store.backend import Backend
from hub.store.channels import ChannelRecord, Sent
from tests.contract.support import T0

pytestmark = pytest.mark.timeout(30)


def _channel(i: int, target: Target, tenant: str = "t1", **extra: object) -> Channel:
    return Channel(
        id=f"ch-{i:012x}",
        tenant=tenant,
        name=f"channel {i}",
        kind=target.kind,
        target=target,
        enabled=True,
        rate_per_min=30,
        created=T0 + i,
        **extra,
    )


_HOOK = WebhookTarget(url="https://example.test/alarms")


async def test_channels_are_per_tenant_with_their_secrets(backend: Backend) -> None:
    hook = ChannelRecord(_channel(1, _HOOK), secret="s3cret")
    mail = ChannelRecord(_channel(2, EmailTarget(to=["ops@example.test"])))
    other = ChannelRecord(_channel(3, MqttTarget(device="siren"), tenant="t2"))
    for record in (mail, other, hook):
        await backend.channels.add_channel(record)
    assert await backend.channels.get_channel(hook.channel.id, "t1") == hook
    assert await backend.channels.get_channel(hook.channel.id, None) == hook
    assert await backend.channels.get_channel(hook.channel.id, "t2") is None
    assert await backend.channels.get_channel("ch-000000000009", None) is None
    assert await backend.channels.list_channels("t1") == [hook, mail]  # oldest first
    assert await backend.channels.list_channels(None) == [hook, mail, other]

    assert not await backend.channels.delete_channel(hook.channel.id, "t2")
    assert await backend.channels.delete_channel(hook.channel.id, "t1")
    assert not await backend.channels.delete_channel(hook.channel.id, "t1")
    assert await backend.channels.delete_channel(other.channel.id, None)
    assert await backend.channels.list_channels(None) == [mail]


async def test_sending_counts_on_the_channel(backend: Backend) -> None:
    hook = ChannelRecord(_channel(1, _HOOK), secret="s3cret")
    await backend.channels.add_channel(hook)
    await backend.channels.add_channel(ChannelRecord(_channel(2, _HOOK)))

    async def deliveries(channel_id: str = hook.channel.id) -> Deliveries:
        record = await backend.channels.get_channel(channel_id, None)
        assert record is not None
        return record.channel.deliveries

    await backend.channels.count_sent(hook.channel.id, Sent(T0 + 10, delivered=False, error="answered 500"))
    assert await deliveries() == Deliveries(failed_attempts=1, last_attempt=T0 + 10, last_error="answered 500")
    await backend.channels.count_sent(hook.channel.id, Sent(T0 + 20, delivered=True))
    assert await deliveries() == Deliveries(
        delivered=1, failed_attempts=1, last_attempt=T0 + 20, last_error=None, last_delivered=T0 + 20
    )
    await backend.channels.count_sent(hook.channel.id, Sent(T0 + 30, delivered=False, error="timeout", dropped=True))
    await backend.channels.count_sent(hook.channel.id, Sent(T0 + 40, delivered=False, suppressed=True))
    await backend.channels.count_sent(hook.channel.id, Sent(T0 + 41, delivered=False, suppressed=True))
    assert await deliveries() == Deliveries(
        delivered=1,
        failed_attempts=2,
        dropped=1,
        suppressed=2,
        last_attempt=T0 + 30,  # a suppressed notification is not an attempt
        last_error="timeout",
        last_delivered=T0 + 20,
    )
    assert await deliveries("ch-000000000002") == Deliveries()
    await backend.channels.count_sent("ch-000000000009", Sent(T0, delivered=True))  # gone: nothing to count


async def test_a_notification_dropped_unsent_is_no_failed_attempt(backend: Backend) -> None:
    hook = ChannelRecord(_channel(1, _HOOK), secret="s3cret")
    await backend.channels.add_channel(hook)
    await backend.channels.count_sent(hook.channel.id, Sent(T0 + 10, delivered=False, error="answered 500"))
    full = "ev-7 dropped unsent: 100 notifications were waiting"
    await backend.channels.count_sent(hook.channel.id, Sent(T0 + 20, False, full, dropped=True, tried=False))
    stored = await backend.channels.get_channel(hook.channel.id, None)
    assert stored is not None
    assert stored.channel.deliveries == Deliveries(
        failed_attempts=1,
        dropped=1,
        last_attempt=T0 + 10,  # the drop was no attempt: the last one and its error stay
        last_error="answered 500",
    )


async def test_put_replaces_the_settings_and_keeps_the_counters(backend: Backend) -> None:
    hook = ChannelRecord(_channel(1, _HOOK), secret="s3cret")
    await backend.channels.add_channel(hook)
    await backend.channels.count_sent(hook.channel.id, Sent(T0 + 10, delivered=True))
    changed = hook.channel.model_copy(
        update={
            "name": "renamed",
            "target": WebhookTarget(url="https://example.test/other"),
            "enabled": False,
            "rate_per_min": 5,
        }
    )
    assert await backend.channels.put_channel(ChannelRecord(changed, secret="rotated"))
    stored = await backend.channels.get_channel(hook.channel.id, "t1")
    assert stored is not None and stored.secret == "rotated"
    assert stored.channel == changed.model_copy(
        update={"deliveries": Deliveries(delivered=1, last_attempt=T0 + 10, last_delivered=T0 + 10)}
    )
    assert stored.channel.kind is ChannelKind.WEBHOOK
    assert not await backend.channels.put_channel(ChannelRecord(_channel(9, _HOOK)))
    assert not await backend.channels.put_channel(ChannelRecord(changed.model_copy(update={"tenant": "t2"})))

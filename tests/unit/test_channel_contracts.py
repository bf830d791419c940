"""What a channel body may hold: each target kind's refusals, said in words."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from contracts.channels import ChannelCreate, ChannelKind


def channel(target: dict[str, Any], **fields: Any) -> ChannelCreate:
    return ChannelCreate.model_validate({"name": "ops", "target": target, **fields})


def test_each_kind_takes_its_own_target() -> None:
    assert channel({"kind": "webhook", "url": "https://ops.example.org/hook"}).target.kind is ChannelKind.WEBHOOK
    assert channel({"kind": "email", "to": ["ops@example.org", "a.b+c@x.io"]}).target.kind is ChannelKind.EMAIL
    assert channel({"kind": "mqtt", "device": "siren-1"}).target.kind is ChannelKind.MQTT
    assert channel({"kind": "stream"}).rate_per_min == 30


@pytest.mark.parametrize(
    ("target", "fields", "problem"),
    [
        ({"kind": "webhook", "url": "ftp://example.org/x"}, {}, "URL scheme should be 'http' or 'https'"),
        ({"kind": "webhook", "url": "https://example.org/" + "a" * 2040}, {}, "at most 2048 characters"),
        ({"kind": "webhook", "url": "https://example.org/", "secret": "x"}, {}, "Extra inputs are not permitted"),
        ({"kind": "email", "to": []}, {}, "at least 1 item"),
        ({"kind": "email", "to": ["ops@example.org>, evil@x.io"]}, {}, "should match pattern"),
        ({"kind": "email", "to": ["no-at-sign"]}, {}, "should match pattern"),
        ({"kind": "mqtt", "device": "devices/+/x"}, {}, "should match pattern"),
        ({"kind": "pager"}, {}, "does not match any of the expected tags"),
        ({"kind": "stream"}, {"rate_per_min": 0}, "greater than or equal to 1"),
        ({"kind": "stream"}, {"rate_per_min": 6001}, "less than or equal to 6000"),
    ],
)
def test_a_bad_target_is_refused_with_the_reason(target: dict[str, Any], fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem.replace("+", r"\+")):
        channel(target, **fields)

"""Pure pieces of platform events: which instance changes are events, kind filters, delivery signatures."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.events import EventKind, matches_kind
from hub.deploy.instances import instance_event
from hub.events.signing import sign, verify

STATUSES = [
    "deploying",
    "fetching",
    "installing",
    "starting",
    "running",
    "restarting",
    "crashloop",
    "failed",
    "stopped",
]


@pytest.mark.parametrize(
    ("before", "now", "kind"),
    [
        ("deploying", "running", EventKind.INSTANCE_STARTED),
        ("starting", "running", EventKind.INSTANCE_STARTED),
        ("running", "restarting", EventKind.INSTANCE_CRASHED),
        ("restarting", "running", EventKind.INSTANCE_RESTARTED),
        ("crashloop", "running", EventKind.INSTANCE_RESTARTED),
        ("restarting", "crashloop", EventKind.INSTANCE_CRASHLOOP),
        ("installing", "failed", EventKind.INSTANCE_FAILED),
        ("running", "running", None),
        ("fetching", "installing", None),
        ("running", "stopped", None),
    ],
)
def test_instance_changes_that_are_events(before: str, now: str, kind: EventKind | None) -> None:
    assert instance_event(before, now) == kind


@given(st.sampled_from(STATUSES))
def test_staying_put_is_never_an_event(status: str) -> None:
    assert instance_event(status, status) is None


def test_kind_filters_take_a_kind_or_a_family() -> None:
    assert matches_kind("node.dead", None) and matches_kind("node.dead", "node.dead")
    assert matches_kind("node.dead", "node.") and not matches_kind("instance.started", "node.")
    assert not matches_kind("node.dead", "node")


@given(st.binary(max_size=512), st.integers(min_value=0, max_value=2**40))
def test_a_signature_verifies_with_its_secret_only(body: bytes, timestamp: int) -> None:
    signature = sign("whsec_a", timestamp, body)
    assert verify("whsec_a", str(timestamp), body, signature, now=timestamp)
    assert not verify("whsec_b", str(timestamp), body, signature, now=timestamp)
    assert not verify("whsec_a", str(timestamp + 1), body, signature, now=timestamp)
    assert not verify("whsec_a", str(timestamp), body, signature, now=timestamp + 301)
    assert not verify("whsec_a", "soon", body, signature, now=timestamp)

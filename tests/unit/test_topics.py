"""The topic scheme: builders, parser and the ACL rules built on them."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from contracts.ids import InvalidIdentifier, check_id, is_valid_id
from contracts.topics import (
    InvalidTopic,
    ParsedTopic,
    TopicKind,
    alarms_topic,
    command_response_topic,
    command_subscription,
    command_topic,
    deployments_topic,
    device_may_publish,
    device_may_receive,
    device_may_subscribe,
    heartbeat_topic,
    logs_topic,
    parse_topic,
    state_desired_topic,
    state_reported_topic,
    status_topic,
    telemetry_topic,
)

ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
SIMPLE = {
    TopicKind.TELEMETRY: telemetry_topic,
    TopicKind.STATUS: status_topic,
    TopicKind.STATE_REPORTED: state_reported_topic,
    TopicKind.STATE_DESIRED: state_desired_topic,
    TopicKind.LOGS: logs_topic,
    TopicKind.HEARTBEAT: heartbeat_topic,
    TopicKind.DEPLOYMENTS: deployments_topic,
    TopicKind.ALARMS: alarms_topic,
}


@given(ids, st.sampled_from(sorted(SIMPLE, key=lambda k: k.value)))
def test_every_simple_topic_parses_back(device_id: str, kind: TopicKind) -> None:
    assert parse_topic(SIMPLE[kind](device_id)) == ParsedTopic(device_id, kind)


@given(ids, ids)
def test_command_topics_parse_back(device_id: str, name: str) -> None:
    assert parse_topic(command_topic(device_id, name)) == ParsedTopic(device_id, TopicKind.COMMAND, name)
    response = command_response_topic(device_id, name)
    assert parse_topic(response) == ParsedTopic(device_id, TopicKind.COMMAND_RESPONSE, name)


bad_ids = st.one_of(
    st.just(""),
    st.text(min_size=65, max_size=80, alphabet="abc"),
    st.tuples(ids, st.sampled_from("/+#$ \t\n\x00"), st.text(max_size=5)).map("".join),
    st.tuples(st.sampled_from("$_.-"), ids).map("".join),
)


@given(bad_ids)
def test_builders_refuse_ids_that_escape_their_level(bad: str) -> None:
    assert not is_valid_id(bad)
    for build in SIMPLE.values():
        with pytest.raises(InvalidIdentifier):
            build(bad)
    with pytest.raises(InvalidIdentifier):
        command_topic("dev", bad)
    with pytest.raises(InvalidIdentifier, match="invalid id"):
        check_id(bad)


@given(st.text(max_size=60))
def test_parse_refuses_wildcards_and_never_raises_anything_else(topic: str) -> None:
    try:
        parsed = parse_topic(topic)
    except InvalidTopic:
        return
    assert "+" not in topic and "#" not in topic
    assert is_valid_id(parsed.device_id)


@given(ids, st.sampled_from(["+", "#", "dev+", "a#"]))
def test_wildcards_anywhere_are_refused(device_id: str, wildcard: str) -> None:
    for topic in (f"devices/{wildcard}/telemetry", f"devices/{device_id}/{wildcard}", f"devices/{device_id}/#"):
        with pytest.raises(InvalidTopic):
            parse_topic(topic)


@pytest.mark.parametrize(
    "topic",
    [
        "devices/d1",
        "devices/d1/",
        "devices/d1/telemetry/extra",
        "devices/d1/unknown",
        "devices//telemetry",
        "other/d1/telemetry",
        "/devices/d1/telemetry",
        "devices/d1/commands",
        "devices/d1/commands/reboot/other",
        "devices/d1/commands/bad name",
        "$SYS/broker/uptime",
    ],
)
def test_topics_outside_the_scheme_are_refused(topic: str) -> None:
    with pytest.raises(InvalidTopic):
        parse_topic(topic)


@given(ids, ids)
def test_a_device_publishes_only_its_own_uplink(me: str, other: str) -> None:
    assume(me != other)
    for kind, build in SIMPLE.items():
        assert device_may_publish(me, build(me)) is kind.uplink
        assert not device_may_publish(me, build(other))
    assert device_may_publish(me, command_response_topic(me, "reboot"))
    assert not device_may_publish(me, command_topic(me, "reboot"))
    assert not device_may_publish(me, command_response_topic(other, "reboot"))


@given(ids, ids)
def test_a_device_subscribes_only_to_its_own_downlink(me: str, other: str) -> None:
    assume(me != other)
    allowed = [
        state_desired_topic(me),
        alarms_topic(me),
        command_subscription(me),
        f"devices/{me}/commands/#",
        command_topic(me, "x"),
    ]
    for topic_filter in allowed:
        assert device_may_subscribe(me, topic_filter), topic_filter
        assert device_may_receive(me, topic_filter.replace("+", "x").replace("#", "x"))
    refused = [
        "#",
        "devices/#",
        "devices/+/commands/+",
        f"devices/{me}/#",
        f"devices/{me}/+",
        telemetry_topic(me),
        state_desired_topic(other),
        alarms_topic(other),
        command_subscription(other),
        f"devices/{me}/commands/+/response",
    ]
    for topic_filter in refused:
        assert not device_may_subscribe(me, topic_filter), topic_filter
    assert not device_may_receive(me, state_desired_topic(other))
    assert not device_may_receive(me, alarms_topic(other))
    assert not device_may_receive(me, telemetry_topic(me))

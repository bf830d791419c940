"""The MQTT topic scheme of Fieldhub (see ARCHITECTURE.md), as functions.

Every topic is ``devices/{device_id}/...``. Builders refuse ids that would escape
their level; :func:`parse_topic` refuses anything outside the scheme.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from contracts.errors import ErrorCode, FieldhubError
from contracts.ids import check_id, is_valid_id

ROOT = "devices"


class InvalidTopic(FieldhubError, ValueError):
    """Raised for a topic or topic filter outside the Fieldhub scheme."""

    code = ErrorCode.INVALID_REQUEST


class TopicKind(enum.Enum):
    """What a topic carries, and in which direction."""

    TELEMETRY = "telemetry"
    STATUS = "status"
    STATE_REPORTED = "state/reported"
    STATE_DESIRED = "state/desired"
    COMMAND = "commands"
    COMMAND_RESPONSE = "commands/response"
    LOGS = "logs"
    HEARTBEAT = "heartbeat"
    DEPLOYMENTS = "deployments"
    APPS = "apps"
    #: Notifications of the alarms a channel tells the device of (a siren, a display).
    ALARMS = "alarms"

    @property
    def uplink(self) -> bool:
        """True when devices publish this kind (device -> hub)."""
        return self not in _DOWNLINK


_DOWNLINK = frozenset({TopicKind.STATE_DESIRED, TopicKind.COMMAND, TopicKind.DEPLOYMENTS, TopicKind.ALARMS})

_FIXED = {
    ("telemetry",): TopicKind.TELEMETRY,
    ("status",): TopicKind.STATUS,
    ("state", "reported"): TopicKind.STATE_REPORTED,
    ("state", "desired"): TopicKind.STATE_DESIRED,
    ("logs",): TopicKind.LOGS,
    ("heartbeat",): TopicKind.HEARTBEAT,
    ("deployments",): TopicKind.DEPLOYMENTS,
    ("apps",): TopicKind.APPS,
    ("alarms",): TopicKind.ALARMS,
}


@dataclass(frozen=True, slots=True)
class ParsedTopic:
    """A topic split into its parts; ``name`` is the command name for command topics."""

    device_id: str
    kind: TopicKind
    name: str | None = None


def _prefix(device_id: str) -> str:
    return f"{ROOT}/{check_id(device_id, 'device id')}"


def telemetry_topic(device_id: str) -> str:
    """Topic a device publishes readings on."""
    return f"{_prefix(device_id)}/telemetry"


def status_topic(device_id: str) -> str:
    """Retained online/offline topic (also the device's last will)."""
    return f"{_prefix(device_id)}/status"


def state_reported_topic(device_id: str) -> str:
    """Topic a device reports its state on."""
    return f"{_prefix(device_id)}/state/reported"


def state_desired_topic(device_id: str) -> str:
    """Retained topic the hub publishes the desired state on."""
    return f"{_prefix(device_id)}/state/desired"


def command_topic(device_id: str, name: str) -> str:
    """Topic the hub publishes a command request on."""
    return f"{_prefix(device_id)}/commands/{check_id(name, 'command name')}"


def command_response_topic(device_id: str, name: str) -> str:
    """Topic a device answers a command on."""
    return f"{command_topic(device_id, name)}/response"


def logs_topic(device_id: str) -> str:
    """Topic for log lines of agents and their apps."""
    return f"{_prefix(device_id)}/logs"


def heartbeat_topic(device_id: str) -> str:
    """Topic for node health and load."""
    return f"{_prefix(device_id)}/heartbeat"


def deployments_topic(device_id: str) -> str:
    """Retained topic with the desired set of apps of an agent."""
    return f"{_prefix(device_id)}/deployments"


def apps_topic(device_id: str) -> str:
    """Topic a node reports its app instances on (:class:`contracts.apps.NodeAppsReport`)."""
    return f"{_prefix(device_id)}/apps"


def alarms_topic(device_id: str) -> str:
    """Topic the hub publishes alarm notifications on (:class:`contracts.alarms.Notification`), not retained."""
    return f"{_prefix(device_id)}/alarms"


def command_subscription(device_id: str) -> str:
    """The filter a device subscribes to for all its commands."""
    return f"{_prefix(device_id)}/commands/+"


def parse_topic(topic: str) -> ParsedTopic:
    """Split a concrete topic of the scheme into device id, kind and command name.

    Raises:
        InvalidTopic: for wildcards, unknown kinds, bad ids or extra levels.
    """
    parts = topic.split("/")
    if len(parts) < 3 or parts[0] != ROOT or not is_valid_id(parts[1]):
        raise InvalidTopic(f"not a Fieldhub device topic: {topic[:200]!r}")
    device_id, rest = parts[1], tuple(parts[2:])
    kind = _FIXED.get(rest)
    if kind is not None:
        return ParsedTopic(device_id, kind)
    if rest[0] == "commands" and len(rest) in (2, 3) and is_valid_id(rest[1]):
        if len(rest) == 2:
            return ParsedTopic(device_id, TopicKind.COMMAND, rest[1])
        if rest[2] == "response":
            return ParsedTopic(device_id, TopicKind.COMMAND_RESPONSE, rest[1])
    raise InvalidTopic(f"not a Fieldhub device topic: {topic[:200]!r}")


def device_may_publish(device_id: str, topic: str) -> bool:
    """ACL rule: a device publishes only uplink topics under its own prefix."""
    try:
        parsed = parse_topic(topic)
    except InvalidTopic:
        return False
    return parsed.device_id == device_id and parsed.kind.uplink


def device_may_subscribe(device_id: str, topic_filter: str) -> bool:
    """ACL rule: a device subscribes only to its own downlink topics.

    Allowed filters are the exact downlink topics, ``devices/{id}/commands/+`` and
    ``devices/{id}/commands/#``; any other wildcard is refused.
    """
    if not is_valid_id(device_id):
        return False
    prefix = f"{ROOT}/{device_id}/"
    if topic_filter in (f"{prefix}commands/+", f"{prefix}commands/#"):
        return True
    if "+" in topic_filter or "#" in topic_filter:
        return False
    try:
        parsed = parse_topic(topic_filter)
    except InvalidTopic:
        return False
    return parsed.device_id == device_id and not parsed.kind.uplink


def device_may_receive(device_id: str, topic: str) -> bool:
    """ACL rule for delivery: only the device's own downlink topics reach it."""
    try:
        parsed = parse_topic(topic)
    except InvalidTopic:
        return False
    return parsed.device_id == device_id and not parsed.kind.uplink


def client_id_allowed(device_id: str, client_id: str | None) -> bool:
    """A device connects as ``{device_id}`` or ``{device_id}:{suffix}``, never as another device.

    Without this rule a device could take over (and read the queued messages of) another
    device's session, because brokers key sessions by client id.
    """
    return client_id == device_id or (client_id or "").startswith(f"{device_id}:")


def device_acl(device_id: str) -> list[tuple[str, str]]:
    """The ACL of a device as ``(action, topic filter)`` pairs, for brokers that take rules per client.

    Built from the same topic kinds as :func:`device_may_publish` and :func:`device_may_subscribe`.
    """
    prefix = _prefix(device_id)
    rules = [("publish", f"{prefix}/{kind.value}") for kind in TopicKind if kind.uplink and kind in _FIXED.values()]
    rules.append(("publish", f"{prefix}/commands/+/response"))
    rules += [
        ("subscribe", f"{prefix}/{kind.value}") for kind in TopicKind if not kind.uplink and kind in _FIXED.values()
    ]
    rules.append(("subscribe", command_subscription(device_id)))
    return rules

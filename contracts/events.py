"""Platform events: what happened to nodes, instances, deployments and schedules, as the hub tells it.

Events are stored, listed (``GET /api/v1/events``), streamed live (Server-Sent Events) and posted to webhooks;
this model is the body of all three. ``kind`` is a dotted name from the closed set :class:`EventKind`, so that
a filter by prefix (``node.``) picks a family.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: Most bytes of an event's ``data`` as JSON; larger data is replaced by a note saying so.
MAX_DATA_BYTES = 4096
MAX_MESSAGE_CHARS = 1000


class EventKind(StrEnum):
    """Every kind of event the hub records (a family, then what happened)."""

    #: A node's heartbeats are late (``data``: ``silent_s``).
    NODE_SUSPECT = "node.suspect"
    #: A node was silent past the dead threshold; its instances are rescheduled.
    NODE_DEAD = "node.dead"
    #: A suspect or dead node was heard again.
    NODE_BACK = "node.back"
    #: An instance runs (after starting, or after restarts).
    INSTANCE_STARTED = "instance.started"
    #: An instance's process or container ended, or failed its health check; its agent restarts it.
    INSTANCE_CRASHED = "instance.crashed"
    #: An instance is being restarted by its agent (``data``: ``restarts``).
    INSTANCE_RESTARTED = "instance.restarted"
    #: An instance crashes again and again; its agent backs off (``data``: last exit code).
    INSTANCE_CRASHLOOP = "instance.crashloop"
    #: An instance could not be fetched, installed or started.
    INSTANCE_FAILED = "instance.failed"
    #: A dead node's instances were placed on another node (``data``: ``from``, ``to``).
    DEPLOYMENT_RESCHEDULED = "deployment.rescheduled"
    #: Some instances of a deployment do not run (or no qualifying node is left for them).
    DEPLOYMENT_DEGRADED = "deployment.degraded"
    #: Every instance of a deployment is down.
    DEPLOYMENT_FAILED = "deployment.failed"
    #: Autoscaling changed the number of replicas (``data``: ``from``, ``to``).
    DEPLOYMENT_SCALED = "deployment.scaled"
    #: A new version failed its health check in its grace period; the previous version runs again.
    DEPLOYMENT_ROLLED_BACK = "deployment.rolled_back"
    #: A scheduled run began.
    SCHEDULE_STARTED = "schedule.started"
    #: A scheduled run's window ended; its instances stop.
    SCHEDULE_ENDED = "schedule.ended"
    #: A start passed while the hub was down and its window had closed: skipped.
    SCHEDULE_MISSED = "schedule.missed"
    #: A rule's condition held on a device: an alarm is active (``node``: the device; ``data``: ``alarm``, the
    #: :class:`contracts.alarms.Alarm` without its history, and ``notify``, the ids of the channels to tell).
    ALARM_RAISED = "alarm.raised"
    #: Someone acknowledged an alarm (``data`` as for ``alarm.raised``).
    ALARM_ACKNOWLEDGED = "alarm.acknowledged"
    #: An alarm's clear condition held, or someone cleared it (``data`` as for ``alarm.raised``).
    ALARM_CLEARED = "alarm.cleared"


#: The families of :class:`EventKind`, for prefix filters.
FAMILIES = tuple(sorted({kind.value.split(".")[0] for kind in EventKind}))
KIND_FILTER_PATTERN = r"^[a-z_]{1,32}(\.[a-z_]{0,32})?$"


class Event(BaseModel):
    """One thing that happened on the platform."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(description="Rising in the order the hub stored events (an SSE stream's Last-Event-ID)")
    ts: int = Field(description="When it happened, epoch ms (hub clock)")
    tenant: str
    kind: EventKind
    deployment: str | None = None
    node: str | None = None
    message: str = Field(max_length=MAX_MESSAGE_CHARS, description="One line for people")
    data: dict[str, Any] = Field(default_factory=dict, description="Details by kind (small JSON object)")


def matches_kind(kind: str, wanted: str | None) -> bool:
    """Whether ``kind`` is ``wanted``, or in its family when ``wanted`` ends with a dot (``node.``)."""
    if not wanted:
        return True
    return kind.startswith(wanted) if wanted.endswith(".") else kind == wanted

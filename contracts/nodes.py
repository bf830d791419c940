"""Edge nodes: the heartbeat an agent publishes and what the hub tells about a node.

The scheduler of the app platform places apps by these: where each sensor is, of which type,
and how loaded and healthy the node is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.devices import Device, DeviceStatus

MAX_HEARTBEAT_BYTES = 64 * 1024


class SensorInfo(BaseModel):
    """One sensor attached to a node."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(max_length=64)
    driver: str = Field(max_length=64)
    type: str | None = Field(default=None, max_length=64)
    unit: str | None = Field(default=None, max_length=32)
    location: str | None = Field(default=None, max_length=128)
    labels: dict[str, str] = Field(default_factory=dict, max_length=32)
    enabled: bool = True
    interval_s: float | None = None
    state: Literal["ok", "error", "disabled", "starting"] = "ok"
    error: str | None = Field(default=None, max_length=500)


class SpoolInfo(BaseModel):
    """The agent's store-and-forward backlog."""

    model_config = ConfigDict(extra="ignore")

    depth: int = Field(ge=0, description="Readings and log lines waiting to be sent")
    oldest_age_s: float | None = Field(default=None, ge=0, description="Age of the oldest waiting item")
    dropped: int = Field(ge=0, description="Items dropped because the spool was full, since it was created")
    bytes_used: int = Field(ge=0)


class InstanceLoad(BaseModel):
    """What one app instance on the node uses (its python services' processes; containers are not measured)."""

    model_config = ConfigDict(extra="ignore")

    deployment: str = Field(max_length=64)
    replica: int = Field(default=0, ge=0)
    cpu_pct: float | None = Field(default=None, ge=0, description="Percent of one core since the last heartbeat")
    rss_mb: float | None = Field(default=None, ge=0, description="Resident memory of its processes")


class Heartbeat(BaseModel):
    """Payload of ``devices/{id}/heartbeat``; unknown fields are ignored for forward compatibility."""

    model_config = ConfigDict(extra="ignore")

    ts: int = Field(description="Epoch milliseconds, agent clock")
    agent_version: str = Field(max_length=32)
    uptime_s: float = Field(ge=0)
    cpu_temp: float | None = None
    load1: float | None = None
    mem_used_pct: float | None = Field(default=None, ge=0, le=100)
    disk_used_pct: float | None = Field(default=None, ge=0, le=100)
    spool: SpoolInfo
    sensors: list[SensorInfo] = Field(default_factory=list, max_length=256)
    apps: list[InstanceLoad] = Field(default_factory=list, max_length=256, description="The app instances it runs")


MAX_LOG_BYTES = 256 * 1024
#: Characters of one log line's message.
MAX_LOG_MESSAGE = 4000


class LogLine(BaseModel):
    """One log line of an agent or of an app it runs, as shipped on ``devices/{id}/logs``.

    An app's lines carry where they come from (``app`` ... ``stream``); the agent's own lines leave them out.
    """

    model_config = ConfigDict(extra="ignore")

    ts: int = Field(description="Epoch milliseconds")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
    logger: str = Field(default="", max_length=128)
    message: str = Field(max_length=MAX_LOG_MESSAGE)
    app: str | None = Field(default=None, max_length=63)
    version: str | None = Field(default=None, max_length=64)
    deployment: str | None = Field(default=None, max_length=64)
    instance: str | None = Field(default=None, max_length=80, description="``{deployment}-{replica}``")
    service: str | None = Field(default=None, max_length=32)
    stream: Literal["stdout", "stderr"] | None = None


class Node(BaseModel):
    """A gateway with its latest heartbeat, as the API shows it."""

    id: str
    name: str
    tenant: str
    status: DeviceStatus
    last_seen: datetime | None
    heartbeat_at: datetime | None = Field(description="When the hub received the latest heartbeat")
    heartbeat: Heartbeat | None
    health: Literal["healthy", "suspect", "dead"] = Field(
        description="From the age of the latest heartbeat (settings node_suspect_s, node_dead_s); dead: never sent one"
    )

    @classmethod
    def of(
        cls,
        device: Device,
        heartbeat: Heartbeat | None,
        received: datetime | None,
        health: Literal["healthy", "suspect", "dead"],
    ) -> Node:
        return cls(
            id=device.id,
            name=device.name,
            tenant=device.tenant,
            status=device.status,
            last_seen=device.last_seen,
            heartbeat_at=received,
            heartbeat=heartbeat,
            health=health,
        )

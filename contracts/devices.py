"""Devices, tenants and credentials as the API and registry exchange them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.ids import Identifier

LabelKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:/-]{1,63}$")]
LabelValue = Annotated[str, StringConstraints(max_length=128)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
MAX_LABELS = 32
#: Devices one ``POST /api/v1/devices/batch`` registers at most.
MAX_DEVICE_BATCH = 500


class DeviceKind(enum.StrEnum):
    """A plain device publishes its own data; a gateway runs the edge agent."""

    DEVICE = "device"
    GATEWAY = "gateway"


class DeviceStatus(enum.StrEnum):
    """Connection status as the broker sees it."""

    ONLINE = "online"
    OFFLINE = "offline"


#: Days a tenant keeps what ages out (at most a hundred years).
RetentionDays = Annotated[int, Field(ge=1, le=36500)]


class Tenant(BaseModel):
    """An isolated group of devices and users."""

    id: Identifier
    name: Name
    created: datetime
    telemetry_days: RetentionDays | None = Field(
        default=None, description="Raw telemetry older than this is removed, rollups stay (none: the hub's default)"
    )
    logs_days: RetentionDays | None = Field(
        default=None, description="Log lines older than this are archived and removed (none: the hub's default)"
    )


class TenantCreate(BaseModel):
    """Body of ``POST /api/v1/tenants``."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    id: Identifier | None = None


class Device(BaseModel):
    """A registered device as stored and returned by the API (never holds its secret)."""

    id: Identifier
    name: Name
    tenant: Identifier
    kind: DeviceKind = DeviceKind.DEVICE
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=MAX_LABELS)
    enabled: bool = True
    status: DeviceStatus = DeviceStatus.OFFLINE
    created: datetime
    last_seen: datetime | None = None
    profile: Identifier | None = Field(default=None, description="The device profile of its tenant it follows")


class DeviceCreate(BaseModel):
    """Body of ``POST /api/v1/devices``."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    id: Identifier | None = None
    kind: DeviceKind = DeviceKind.DEVICE
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=MAX_LABELS)
    tenant: Identifier | None = None
    profile: Identifier | None = Field(default=None, description="A device profile of the tenant")


class DeviceBatchCreate(BaseModel):
    """Body of ``POST /api/v1/devices/batch``: devices registered all or none, in one tenant."""

    model_config = ConfigDict(extra="forbid")

    tenant: Identifier | None = Field(default=None, description="The tenant of every device (platform admins)")
    devices: list[DeviceCreate] = Field(min_length=1, max_length=MAX_DEVICE_BATCH)


class DevicePatch(BaseModel):
    """Body of ``PATCH /api/v1/devices/{id}``: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    labels: dict[LabelKey, LabelValue] | None = Field(default=None, max_length=MAX_LABELS)
    enabled: bool | None = None
    profile: Identifier | Literal[""] | None = Field(
        default=None, description='A device profile of the tenant; "" removes the device\'s profile'
    )


class Credentials(BaseModel):
    """MQTT credentials of a device; the password is shown once and never stored."""

    username: str
    password: str


class DeviceWithCredentials(Device):
    """Answer of device creation: the device plus its one-time credentials."""

    credentials: Credentials


class DeviceBatchCreated(BaseModel):
    """Answer of ``POST /api/v1/devices/batch``: every device with its one-time credentials, in the order given."""

    devices: list[DeviceWithCredentials]

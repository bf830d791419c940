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


class DeviceKind(enum.StrEnum):
    """A plain device publishes its own data; a gateway runs the edge agent."""

    DEVICE = "device"
    GATEWAY = "gateway"


class DeviceStatus(enum.StrEnum):
    """Connection status as the broker sees it."""

    ONLINE = "online"
    OFFLINE = "offline"


class Tenant(BaseModel):
    """An isolated group of devices and users."""

    id: Identifier
    name: Name
    created: datetime


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

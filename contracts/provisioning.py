"""Gateway enrollment: provisioning tokens made by tenant admins, redeemed by ``fieldhub agent enroll``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from contracts.devices import MAX_LABELS, Credentials, Device, LabelKey, LabelValue, Name
from contracts.ids import Identifier

MAX_TOKEN_TTL_S = 30 * 86_400


class TokenCreate(BaseModel):
    """Body of ``POST /api/v1/provisioning-tokens``."""

    model_config = ConfigDict(extra="forbid")

    tenant: Identifier | None = None
    expires_in_s: int = Field(default=86_400, ge=60, le=MAX_TOKEN_TTL_S)
    uses: int = Field(default=1, ge=1, le=10_000, description="How many gateways may enroll with it")
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=MAX_LABELS)


class TokenInfo(BaseModel):
    """A provisioning token as listed (never with its secret)."""

    id: str
    tenant: str
    expires: datetime
    uses_left: int
    labels: dict[str, str]
    created_by: str
    created: datetime


class TokenCreated(TokenInfo):
    """Answer of token creation: ``token`` is shown only here."""

    token: str


class EnrollRequest(BaseModel):
    """Body of ``POST /api/v1/enroll``: a gateway registers itself with a token."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200)
    name: Name
    id: Identifier | None = None
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=MAX_LABELS)


class Enrolled(BaseModel):
    """Answer of enrollment: the new gateway, its one-time credentials and where to connect."""

    device: Device
    credentials: Credentials
    mqtt_port: int

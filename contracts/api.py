"""Shapes of HTTP API answers that other processes (CLI, apps) read."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from contracts.devices import Device
from contracts.ids import Identifier

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a listing."""

    items: list[T]
    total: int
    limit: int
    offset: int


class DevicePage(Page[Device]):
    """A page of devices."""


class TelemetryPoint(BaseModel):
    """One stored reading, or one aggregation bucket (``ts`` = bucket start)."""

    ts: str = Field(description="RFC 3339 UTC")
    value: bool | float | str | None


class TelemetrySeries(BaseModel):
    """Answer of ``GET /api/v1/devices/{id}/telemetry``."""

    device_id: Identifier
    key: str
    agg: Literal["avg", "min", "max", "sum", "count"] | None = None
    interval: str | None = None
    points: list[TelemetryPoint]


class LatestValue(BaseModel):
    """Latest value of one key."""

    ts: str
    value: bool | float | str


class LatestValues(BaseModel):
    """Answer of ``GET /api/v1/devices/{id}/latest``."""

    device_id: Identifier
    values: dict[str, LatestValue]


class Token(BaseModel):
    """OAuth2 bearer token."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


#: The portal's session cookie (HttpOnly, SameSite=Lax): the same signed token as a bearer token.
SESSION_COOKIE = "fieldhub_session"
#: Header carrying the session's CSRF token on every unsafe request authenticated by the cookie.
CSRF_HEADER = "X-CSRF-Token"


class BrowserSession(BaseModel):
    """Answer of ``POST``/``GET /api/v1/auth/session``: who is signed in, and the CSRF token for unsafe requests."""

    username: str
    role: str
    tenant: str | None
    csrf_token: str = Field(description=f"send it as {CSRF_HEADER} on POST, PUT, PATCH and DELETE")
    expires: int = Field(description="when the session ends, epoch seconds")


class ErrorBody(BaseModel):
    """The ``error`` member of every error answer."""

    code: str
    message: str
    details: list[dict[str, object]] | None = None


class ErrorResponse(BaseModel):
    """Every non-2xx answer of the API."""

    error: ErrorBody


class IngestStored(BaseModel):
    """Answer of ``POST /api/v1/ingest/telemetry``: the message is in the store (``202``, never before)."""

    stored: Literal[True] = True
    device_id: Identifier = Field(description="The device the credentials name; the readings are its")

"""The audit trail: who changed what, and every sign-in, as ``GET /api/v1/audit`` and the streams tell it.

``action`` is a dotted name, a family then what happened (``device.create``, ``rule.delete``, ``auth.sign_in``,
``auth.sign_in_failed``), so that a filter by prefix (``device.``) picks a family. ``outcome`` is ``ok`` or the
error code of the answer (``forbidden``, ``not_found``, ``too_many_requests``, ...), ``status`` its HTTP status.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: An action, or a family of them ending with a dot (``device.``).
ACTION_FILTER_PATTERN = r"^[a-z_]+(\.[a-z_]+)*\.?$"
#: Version of the audit record written to the streams (the JSON of :class:`AuditRecord` plus this field).
AUDIT_SCHEMA_VERSION = 1
OK = "ok"


class ActorKind(StrEnum):
    """Who acted: a person (or directory user), an API key, or a device (a gateway enrolling itself)."""

    USER = "user"
    API_KEY = "api_key"
    DEVICE = "device"


class Actor(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: ActorKind
    id: str


class AuditRecord(BaseModel):
    """One change or sign-in; never a request body, never a secret."""

    id: int = Field(description="Rises in store order")
    ts: int = Field(description="Epoch ms")
    actor: Actor | None = Field(description="None: the caller was not signed in")
    action: str
    target: str | None = Field(default=None, description="The object acted on (its id), when there is one")
    tenant: str | None = Field(default=None, description="None: the platform (or not known)")
    address: str | None = Field(default=None, description="The client's address")
    outcome: str = Field(description="ok, or the error code of the answer")
    status: int | None = Field(default=None, description="The HTTP status of the answer")
    detail: dict[str, Any] = Field(default_factory=dict, description="More about the action (path parameters)")

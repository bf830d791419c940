"""HTTP hooks a broker such as EMQX calls to delegate device authentication and authorization to the hub."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AuthRequest(BaseModel):
    """What the broker sends on CONNECT."""

    model_config = ConfigDict(extra="ignore")

    username: str = Field(default="", max_length=256)
    password: str = Field(default="", max_length=1024)
    clientid: str = Field(default="", max_length=256)


class AclRule(BaseModel):
    permission: Literal["allow", "deny"] = "allow"
    action: Literal["publish", "subscribe", "all"]
    topic: str


class AuthResponse(BaseModel):
    """``allow`` with the device's ACL (so the broker need not ask per topic), or ``deny``."""

    result: Literal["allow", "deny"]
    is_superuser: bool = False
    acl: list[AclRule] = Field(default_factory=list)


class AuthzRequest(BaseModel):
    """What the broker sends when a client publishes or subscribes (if it did not keep the ACL)."""

    model_config = ConfigDict(extra="ignore")

    username: str = Field(default="", max_length=256)
    topic: str = Field(max_length=65535)
    action: Literal["publish", "subscribe"]


class AuthzResponse(BaseModel):
    result: Literal["allow", "deny"]

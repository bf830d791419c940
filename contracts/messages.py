"""Messages on the device topics other than telemetry: status, state, commands."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.devices import DeviceStatus

MAX_STATE_BYTES = 64 * 1024


class StatusMessage(BaseModel):
    """Payload of ``devices/{id}/status`` (retained; also the device's last will).

    A device publishes ``online`` (retained) when it connects, sets ``offline`` as its last will
    (retained), and publishes ``offline`` itself before a clean disconnect, for which the broker
    sends no last will. Behind Mosquitto this is how the hub knows who is online.
    """

    status: DeviceStatus
    ts: int | None = Field(default=None, description="Epoch milliseconds")


def status_payload(status: DeviceStatus, ts: int | None = None) -> bytes:
    """The JSON of a :class:`StatusMessage` (for devices, the agent and tools)."""
    return StatusMessage(status=status, ts=ts).model_dump_json(exclude_none=True).encode()


class DesiredState(BaseModel):
    """Payload of ``devices/{id}/state/desired`` (retained)."""

    version: int = Field(ge=1, description="Increases with every change")
    state: dict[str, Any]
    ts: int


class CommandRequest(BaseModel):
    """Payload of ``devices/{id}/commands/{name}``."""

    id: str = Field(description="Correlation id; the response carries it back")
    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    ts: int
    timeout_ms: int


class CommandResponse(BaseModel):
    """Payload of ``devices/{id}/commands/{name}/response``."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(max_length=128)
    status: Literal["ok", "error"] = "ok"
    result: dict[str, Any] | None = None
    error: str | None = Field(default=None, max_length=1024)

"""Device twin (desired/reported state) and commands."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import DeviceDep, ServicesDep
from contracts.ids import ID_PATTERN
from contracts.messages import CommandResponse
from contracts.telemetry import to_rfc3339
from hub.store.state import StateKind, StateRecord

router = APIRouter(prefix="/api/v1/devices", tags=["control"])


class StateDoc(BaseModel):
    state: dict[str, Any]
    version: int
    updated: str


class DeviceState(BaseModel):
    desired: StateDoc | None
    reported: StateDoc | None


class CommandBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float | None = Field(default=None, gt=0, le=300)


def _doc(record: StateRecord | None) -> StateDoc | None:
    if record is None:
        return None
    return StateDoc(state=record.doc, version=record.version, updated=to_rfc3339(record.updated))


@router.get("/{device_id}/state", response_model=DeviceState)
async def get_state(device: DeviceDep, services: ServicesDep) -> DeviceState:
    desired = await services.store.state.get_state(device.id, StateKind.DESIRED)
    reported = await services.store.state.get_state(device.id, StateKind.REPORTED)
    return DeviceState(desired=_doc(desired), reported=_doc(reported))


@router.put("/{device_id}/state/desired", response_model=StateDoc)
async def put_desired(device: DeviceDep, body: dict[str, Any], services: ServicesDep) -> StateDoc:
    """Replace the desired state; it is published retained on ``devices/{id}/state/desired``.

    A gateway's desired state must follow the agent's contract (``agent-desired-state``); a plain
    device's is any JSON object up to 64 KiB.
    """
    record = await services.state.set_desired(device.id, body, device.kind)
    doc = _doc(record)
    assert doc is not None
    return doc


@router.post("/{device_id}/commands/{name}", response_model=CommandResponse)
async def send_command(
    device: DeviceDep,
    name: Annotated[str, Path(pattern=ID_PATTERN)],
    services: ServicesDep,
    body: CommandBody | None = None,
) -> CommandResponse:
    """Publish a command and wait for the device's answer (504 on timeout, 409 when offline)."""
    body = body or CommandBody()
    timeout = body.timeout_s or services.settings.command_timeout_s
    return await services.commands.request(device.id, name, body.params, timeout)

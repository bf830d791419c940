"""JSON Schemas of the contracts, for ``fieldhub contracts export`` and the API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from contracts.agent_state import AgentDesiredState, AgentReportedState
from contracts.apps import AppManifest
from contracts.devices import Credentials, Device, DeviceCreate, DevicePatch, Tenant, TenantCreate
from contracts.messages import CommandRequest, CommandResponse, DesiredState, StatusMessage
from contracts.nodes import Heartbeat, Node
from contracts.provisioning import Enrolled, EnrollRequest
from contracts.schedules import DeploymentSchedule
from contracts.telemetry import TelemetryMessage

SCHEMAS: dict[str, type[BaseModel]] = {
    "telemetry": TelemetryMessage,
    "status": StatusMessage,
    "state-desired": DesiredState,
    "agent-desired-state": AgentDesiredState,
    "agent-reported-state": AgentReportedState,
    "app-manifest": AppManifest,
    "deployment-schedule": DeploymentSchedule,
    "command-request": CommandRequest,
    "command-response": CommandResponse,
    "device": Device,
    "device-create": DeviceCreate,
    "device-patch": DevicePatch,
    "credentials": Credentials,
    "tenant": Tenant,
    "tenant-create": TenantCreate,
    "heartbeat": Heartbeat,
    "node": Node,
    "enroll-request": EnrollRequest,
    "enrolled": Enrolled,
}


def json_schema(name: str) -> dict[str, Any]:
    """Return the JSON Schema of one contract; ``KeyError`` for an unknown name."""
    schema = SCHEMAS[name].model_json_schema()
    schema["$id"] = f"https://fieldhub.dev/schemas/{name}.json"
    if name == "telemetry":
        # The wire format also allows a list of objects; say so in the exported schema.
        item = dict(schema)
        defs = item.pop("$defs", None)
        schema = {
            "$id": item.pop("$id"),
            "title": "Telemetry",
            "oneOf": [
                {"$ref": "#/$defs/TelemetryMessage"},
                {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/TelemetryMessage"}},
            ],
            "$defs": {**(defs or {}), "TelemetryMessage": item},
        }
    return schema

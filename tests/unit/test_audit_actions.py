"""The audit trail names every unsafe route's action from its method and template, and its outcome from the status."""

from __future__ import annotations

import pytest

from cloud.api.app import openapi_document
from cloud.api.audit_trail import action_of, outcome_of

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize(
    ("method", "path", "action"),
    [
        ("POST", "/api/v1/devices", "device.create"),
        ("PATCH", "/api/v1/devices/{device_id}", "device.update"),
        ("DELETE", "/api/v1/devices/{device_id}", "device.delete"),
        ("POST", "/api/v1/devices/{device_id}/commands/{name}", "device.command"),
        ("PUT", "/api/v1/devices/{device_id}/state/desired", "device.state.desired.update"),
        ("POST", "/api/v1/alarms/{alarm_id}/ack", "alarm.ack"),
        ("DELETE", "/api/v1/apps/{name}/versions/{version}", "app.version.delete"),
        ("POST", "/api/v1/provisioning-tokens", "provisioning_token.create"),
        ("DELETE", "/api/v1/rules/{rule_id}", "rule.delete"),
        ("POST", "/api/v1/policies", "policy.create"),
        ("POST", "/api/v1/auth/logout", "auth.logout"),
    ],
)
def test_actions_are_named_from_the_route(method: str, path: str, action: str) -> None:
    assert action_of(method, path) == action


def test_every_unsafe_route_gets_a_dotted_lowercase_action() -> None:
    for path, operations in openapi_document()["paths"].items():
        for method in operations:
            if method.upper() in ("POST", "PUT", "PATCH", "DELETE"):
                action = action_of(method.upper(), path)
                assert action.count(".") >= 1 and action == action.lower() and "{" not in action, (method, path)


def test_outcomes_are_ok_or_an_error_code() -> None:
    assert [outcome_of(s) for s in (200, 201, 204, 403, 404, 422, 429, 500)] == [
        "ok", "ok", "ok", "forbidden", "not_found", "invalid_request", "too_many_requests", "internal",
    ]  # fmt: skip

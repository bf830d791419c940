"""One error hierarchy: each error Fieldhub raises on purpose has a code, an HTTP answer and, if counted, a reason."""

from __future__ import annotations

import importlib
import pkgutil
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from cloud.api import errors
from cloud.api.errors import RETRY_AFTER_S, STATUS
from contracts.errors import AuthRefusal, ErrorCode, FieldhubError, RejectReason
from contracts.ids import InvalidIdentifier, check_id
from contracts.telemetry import PayloadRejected
from device_drivers.base import DriverUnavailable
from hub.errors import StoreUnavailable
from hub.metrics import Metrics
from hub.security.device_auth import AuthRefused

PACKAGES = ("contracts", "device_drivers", "edge_agent", "hub", "cloud")


def _every_error() -> set[type[FieldhubError]]:
    for package in PACKAGES:
        for module in pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}."):
            if ".bench" not in module.name:
                importlib.import_module(module.name)
    found: set[type[FieldhubError]] = set()
    pending = [FieldhubError]
    while pending:
        for sub in pending.pop().__subclasses__():
            found.add(sub)
            pending.append(sub)
    return found


def test_every_code_has_an_http_answer_and_every_error_a_code() -> None:
    assert set(STATUS) == set(ErrorCode)
    errors = _every_error()
    assert {"PayloadRejected", "AuthRefused", "ProtocolError", "DriverError", "StoreUnavailable"} <= {
        e.__name__ for e in errors
    }
    for error in errors:
        assert error.code in STATUS, error


@pytest.mark.parametrize(
    ("error", "code", "reason", "retryable"),
    [
        (PayloadRejected(RejectReason.SCHEMA, "bad"), ErrorCode.INVALID_REQUEST, "schema", False),
        (AuthRefused(AuthRefusal.BAD_PASSWORD), ErrorCode.UNAUTHORIZED, "bad_password", False),
        (StoreUnavailable("away"), ErrorCode.UNAVAILABLE, None, True),
        (DriverUnavailable("unplugged"), ErrorCode.UNAVAILABLE, None, True),
    ],
)
def test_errors_carry_their_fields(error: FieldhubError, code: ErrorCode, reason: str | None, retryable: bool) -> None:
    assert (error.code, error.reason, error.retryable) == (code, reason, retryable)
    assert error.message


def test_an_invalid_id_is_a_refusal_of_bad_input_and_still_a_value_error() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        check_id("../etc", "device id")
    assert isinstance(caught.value, ValueError) and caught.value.code is ErrorCode.INVALID_REQUEST


async def test_a_retryable_error_tells_the_client_when_to_try_again() -> None:
    app = FastAPI()
    app.state.services = SimpleNamespace(metrics=Metrics())  # the error handlers count answers there
    errors.install(app)

    @app.post("/away")
    async def away() -> None:
        raise StoreUnavailable("store is not open")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as client:
        answer = await client.post("/away")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_S)
    assert answer.json() == {"error": {"code": "unavailable", "message": "store is not open"}}

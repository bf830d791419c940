"""The one place that maps errors to HTTP answers: ``{"error": {"code", "message", "details"?}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.errors import ErrorCode
from hub.errors import FieldhubError

log = logging.getLogger(__name__)

STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_REQUEST: 422,
    ErrorCode.INVALID_PACKAGE: 422,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.DEVICE_OFFLINE: 409,
    ErrorCode.COMMAND_TIMEOUT: 504,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.TOO_MANY_REQUESTS: 429,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.DIRECTORY_UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
}
#: Seconds a client is asked to wait (``Retry-After``) before repeating a request that failed for a retryable error.
RETRY_AFTER_S = 5
_BY_STATUS = {
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.INVALID_REQUEST,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
}


def count_error(app: Any, code: ErrorCode) -> None:
    """Count an error answer of ``app`` (a refusal of bad input, or a failure) by its code."""
    app.state.services.metrics.api_errors.labels(code.value).inc()


def error_response(
    status: int,
    code: ErrorCode,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code.value, "message": message}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _clean(errors: list[Any]) -> list[dict[str, Any]]:
    # Echo where and what, never the submitted value (it may be a password).
    return [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in errors]


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(FieldhubError)
    async def _fieldhub(request: Request, exc: FieldhubError) -> JSONResponse:
        count_error(request.app, exc.code)
        status = STATUS[exc.code]
        headers = {"WWW-Authenticate": getattr(exc, "challenge", "Bearer")} if status == 401 else {}
        if exc.retryable:
            # A server that is away: clients (devices posting readings among them) wait before they try again.
            headers["Retry-After"] = str(RETRY_AFTER_S)
        retry_after = getattr(exc, "retry_after_s", None)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        if status >= 500:
            log.warning("request failed: %s", exc.message)
        return error_response(status, exc.code, exc.message, getattr(exc, "details", None), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        count_error(request.app, ErrorCode.INVALID_REQUEST)
        details = _clean(list(exc.errors()))
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return error_response(422, ErrorCode.INVALID_REQUEST, f"{where}: {first['msg']}", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        fallback = ErrorCode.INVALID_REQUEST if exc.status_code < 500 else ErrorCode.INTERNAL
        code = _BY_STATUS.get(exc.status_code, fallback)
        count_error(request.app, code)
        return error_response(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        count_error(request.app, ErrorCode.INTERNAL)
        log.error("unhandled error in request", exc_info=exc)
        return error_response(500, ErrorCode.INTERNAL, "internal error; see the hub log")

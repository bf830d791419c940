"""A small HTTP API client for the CLI tools."""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import httpx


class ApiError(Exception):
    """An error answer of the API, with its code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def add_connection_arguments(parser: Any) -> None:
    parser.add_argument(
        "--hub", default=os.environ.get("FIELDHUB_URL", "http://127.0.0.1:8080"), help="hub URL (env FIELDHUB_URL)"
    )
    parser.add_argument("--user", default=os.environ.get("FIELDHUB_USER", "admin"), help="env FIELDHUB_USER")


class ApiClient:
    """Logs in with ``FIELDHUB_TOKEN`` or ``FIELDHUB_PASSWORD`` (falling back to FIELDHUB_ADMIN_PASSWORD)."""

    def __init__(self, base_url: str, user: str) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=30)
        token = os.environ.get("FIELDHUB_TOKEN")
        if token is None:
            password = os.environ.get("FIELDHUB_PASSWORD") or os.environ.get("FIELDHUB_ADMIN_PASSWORD")
            if not password:
                fail(f"set FIELDHUB_TOKEN, or FIELDHUB_PASSWORD for user {user}")
            try:
                answer = self._call("POST", "/api/v1/auth/token", data={"username": user, "password": password})
            except ApiError as exc:
                fail(f"cannot log in as {user}: {exc.message}")
            token = answer["access_token"]
        self._http.headers["Authorization"] = f"Bearer {token}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            fail(f"cannot reach the hub at {self._http.base_url}: {exc}")
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                raise ApiError(response.status_code, error["code"], error["message"])
            except (ValueError, KeyError, TypeError):
                raise ApiError(response.status_code, "http_error", response.text[:200]) from None
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None) -> Any:
        return self._call("POST", path, json=body)

    def patch(self, path: str, body: Any) -> Any:
        return self._call("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self._call("DELETE", path)


def fail(message: str) -> NoReturn:
    print(f"fieldhub: {message}", file=sys.stderr)
    raise SystemExit(1)

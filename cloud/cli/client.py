"""The hub's HTTP API as the command line uses it: who signs in, one error type, the live stream."""

from __future__ import annotations

import json
import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from cloud.cli.config import Logins
from cloud.cli.errors import CliError, fail

TIMEOUT_S = 30.0
# The hub sends a keep-alive on a live stream every 15 s; three missed ones mean the stream is dead.
STREAM_READ_TIMEOUT_S = 45.0
# Where a token comes from, as the messages name it.
FROM_ENV = "FIELDHUB_TOKEN"
FROM_LOGIN = "fieldhub login"
FROM_PASSWORD = "password"  # noqa: S105 - names a source, holds no secret


class ApiError(CliError):
    """An error answer of the hub, printed as ``fieldhub: <status> <code>: <message>``."""

    def __init__(self, status: int, code: str, message: str, details: list[Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.reason = message
        #: The answer's ``details`` (every problem of a refused package, every invalid field), if any.
        self.details = details or []


class SessionRefused(CliError):
    """The hub no longer takes the token (expired, revoked, or from another hub): log in again."""

    def __init__(self, hub: str, source: str, reason: str) -> None:
        if source == FROM_ENV:
            text = f"the hub at {hub} refused FIELDHUB_TOKEN ({reason}); set a new one, or log in: fieldhub login"
        else:
            text = f"your login to {hub} has ended ({reason}); log in again: fieldhub login --hub {hub}"
        super().__init__(text)


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event: ``name`` (``telemetry``, ``end``; ``comment`` for a comment line) and its data."""

    name: str
    data: Any


class ApiClient:
    """One hub's HTTP API, with a bearer token (or none, to sign in)."""

    def __init__(self, hub: str, token: str | None = None, source: str = FROM_PASSWORD) -> None:
        self.hub = hub.rstrip("/")
        self.source = source
        self._http = httpx.Client(base_url=self.hub, timeout=TIMEOUT_S)
        if token is not None:
            self._http.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        self._http.close()

    def sign_in(self, username: str, password: str) -> dict[str, Any]:
        """The token answer of ``POST /api/v1/auth/token``; a refusal is one line naming the user."""
        try:
            answer: dict[str, Any] = self.request(
                "POST", "/api/v1/auth/token", data={"username": username, "password": password}, session=False
            )
        except ApiError as exc:
            fail(f"cannot log in to {self.hub} as {username}: {exc.reason}")
        return answer

    def request(self, method: str, path: str, *, session: bool = True, **kwargs: Any) -> Any:
        """The decoded answer (None when empty).

        Args:
            session: a 401 means the token no longer works (:class:`SessionRefused`); False where a 401
                answers a wrong password instead.
        """
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            fail(f"cannot reach the hub at {self.hub}: {exc}")
        if response.status_code >= 400:
            self._raise(response, session=session)
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None, *, session: bool = True) -> Any:
        return self.request("POST", path, json=body, session=session)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, json=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def events(self, path: str) -> Generator[Event, None, None]:
        """Follow a Server-Sent Events stream until the hub closes it."""
        timeout = httpx.Timeout(TIMEOUT_S, read=STREAM_READ_TIMEOUT_S)
        try:
            with self._http.stream("GET", path, timeout=timeout) as response:
                if response.status_code >= 400:
                    response.read()
                    self._raise(response, session=True)
                yield from _parse_events(response.iter_lines())
        except httpx.ReadTimeout:
            fail(f"the live stream from {self.hub} went silent for {STREAM_READ_TIMEOUT_S:g} s")
        except httpx.HTTPError as exc:
            fail(f"lost the live stream from {self.hub}: {exc}")

    def _raise(self, response: httpx.Response, *, session: bool) -> None:
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error["message"])
            details = error.get("details") if isinstance(error.get("details"), list) else None
        except (ValueError, KeyError, TypeError, AttributeError):
            code, message, details = "http_error", response.text[:200] or response.reason_phrase, None
        if response.status_code == 401 and session and "Authorization" in self._http.headers:
            raise SessionRefused(self.hub, self.source, message)
        raise ApiError(response.status_code, code, message, details)


def _parse_events(lines: Iterator[str]) -> Iterator[Event]:
    name, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield Event(name, json.loads("\n".join(data)))
            name, data = "message", list[str]()
        elif line.startswith(":"):
            yield Event("comment", line[1:].strip())
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)


def connect(hub: str, username: str | None = None) -> ApiClient:
    """A client for ``hub`` holding the first token found.

    In order: ``FIELDHUB_TOKEN``; the login ``fieldhub login`` kept for this hub (unless ``username``
    names someone else); a sign-in as ``username`` (``FIELDHUB_USER``, default ``admin``) with
    ``FIELDHUB_PASSWORD`` or ``FIELDHUB_ADMIN_PASSWORD``.
    """
    token = os.environ.get("FIELDHUB_TOKEN")
    if token:
        return ApiClient(hub, token, FROM_ENV)
    login = Logins.load().get(hub)
    if login is not None and username in (None, login.username):
        return ApiClient(hub, login.token, FROM_LOGIN)
    user = username or os.environ.get("FIELDHUB_USER") or "admin"
    password = os.environ.get("FIELDHUB_PASSWORD") or os.environ.get("FIELDHUB_ADMIN_PASSWORD")
    if not password:
        fail(f"not logged in to {hub}: run fieldhub login --hub {hub} (or set FIELDHUB_TOKEN or FIELDHUB_PASSWORD)")
    client = ApiClient(hub)
    access_token = client.sign_in(user, password)["access_token"]
    client.close()
    return ApiClient(hub, access_token, FROM_PASSWORD)

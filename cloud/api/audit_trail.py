"""Every unsafe API request (POST, PUT, PATCH, DELETE) recorded in the audit trail, in one place.

An ASGI middleware reads what routing and the dependencies found out, never the request body (it may hold
secrets): the route template names the action (:func:`action_of`), its path parameters the target, the answer's
status the outcome. The caller and the tenant come from the dependencies (:func:`note_actor`,
:func:`note_tenant`), through a context variable the middleware sets per request. A route that records itself
(sign-ins, enrollments, with more to say) calls :func:`note_recorded`. The data plane is left out: readings posted
over HTTP and the broker's per-connection checks are not changes, and would drown the trail.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloud.identity.principals import Principal
from contracts.audit import OK, Actor, ActorKind
from contracts.errors import ErrorCode
from hub.audit.service import Audit
from hub.clock import now_ms
from hub.store.audit import NewAuditRecord

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Routes of these tags are the data plane, not changes (see the module's docstring).
NOT_AUDITED_TAGS = frozenset({"ingest", "broker hooks"})
_API_PREFIX = "/api/v1/"
#: The most of a created object's answer read to find its id (the rest, credentials among it, is never kept).
_MAX_ANSWER_BYTES = 64 * 1024
_OUTCOMES = {
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    422: ErrorCode.INVALID_REQUEST,
    429: ErrorCode.TOO_MANY_REQUESTS,
    503: ErrorCode.UNAVAILABLE,
    504: ErrorCode.COMMAND_TIMEOUT,
}


@dataclass(slots=True)
class Note:
    """What a request's dependencies and route tell the middleware."""

    actor: Actor | None = None
    user: str | None = None
    tenant: str | None = None
    recorded: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


_NOTE: contextvars.ContextVar[Note | None] = contextvars.ContextVar("audit_note", default=None)


def actor_of(principal: Principal) -> Actor:
    """The actor a principal stands for: its API key, if it called with one, else the user."""
    if principal.api_key is not None:
        return Actor(kind=ActorKind.API_KEY, id=principal.api_key)
    return Actor(kind=ActorKind.USER, id=principal.username)


def note_actor(principal: Principal) -> None:
    """Tell the audit trail who calls (the principal dependency does, for every authenticated route)."""
    note = _NOTE.get()
    if note is not None:
        note.actor = actor_of(principal)
        note.user = principal.username
        if note.tenant is None:
            note.tenant = principal.tenant


def note_tenant(tenant: str) -> None:
    """Tell the audit trail which tenant the request acts in (a platform admin's request names one)."""
    note = _NOTE.get()
    if note is not None:
        note.tenant = tenant


def note_recorded() -> None:
    """The route records this request itself: the middleware leaves it out."""
    note = _NOTE.get()
    if note is not None:
        note.recorded = True


def client_address(scope: Scope) -> str | None:
    """The client's address: the peer, or what a proxy the HTTP server trusts says in ``X-Forwarded-For``.

    uvicorn replaces the peer with that header's client only for proxies in ``FORWARDED_ALLOW_IPS`` (default
    ``127.0.0.1``), the same trust that makes the session cookie ``Secure`` behind a TLS proxy.
    """
    client = scope.get("client")
    return str(client[0]) if client else None


def outcome_of(status: int) -> str:
    """``ok`` for a success, else the error code the status stands for."""
    if status < 400:
        return OK
    fallback = ErrorCode.INVALID_REQUEST if status < 500 else ErrorCode.INTERNAL
    return _OUTCOMES.get(status, fallback).value


def _singular(word: str) -> str:
    word = word.replace("-", "_")
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def action_of(method: str, path: str) -> str:
    """The action a route stands for, from its method and template: a family (the resource) and a verb.

    ``POST /api/v1/devices`` -> ``device.create``, ``PATCH /api/v1/devices/{device_id}`` -> ``device.update``,
    ``DELETE /api/v1/apps/{name}/versions/{version}`` -> ``app.version.delete``; a ``POST`` below an object
    is named by its path: ``POST /api/v1/alarms/{alarm_id}/ack`` -> ``alarm.ack``.
    """
    parts = [p for p in path.removeprefix(_API_PREFIX).strip("/").split("/") if p]
    words: list[str] = []
    for index, part in enumerate(parts):
        if part.startswith("{"):
            continue
        named = index + 1 < len(parts) and parts[index + 1].startswith("{")
        # A collection (followed by an id, or the one a POST adds to) is named in the singular.
        words.append(_singular(part) if named or len(parts) == 1 else part.replace("-", "_"))
    if method == "DELETE":
        words.append("delete")
    elif method in ("PUT", "PATCH"):
        words.append("update")
    elif len(parts) == 1:
        words.append("create")
    return ".".join(words)


class AuditTrail:
    """ASGI middleware recording the API's unsafe requests (see the module's docstring)."""

    def __init__(self, app: ASGIApp, audit: Audit) -> None:
        self.app = app
        self._audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in UNSAFE_METHODS
            or not str(scope["path"]).startswith(_API_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        note = Note()
        status = 500
        answer: list[bytes] = []
        capture = scope["method"] == "POST"

        async def sending(message: Message) -> None:
            nonlocal status, capture
            if message["type"] == "http.response.start":
                status = int(message["status"])
                capture = capture and status == 201
            elif message["type"] == "http.response.body" and capture:
                answer.append(message.get("body", b""))
                capture = sum(map(len, answer)) <= _MAX_ANSWER_BYTES
            await send(message)

        token = _NOTE.set(note)
        try:
            await self.app(scope, receive, sending)
        finally:
            _NOTE.reset(token)
            self._record(scope, note, status, b"".join(answer) if capture else b"")

    def _record(self, scope: Scope, note: Note, status: int, answer: bytes) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None)
        if note.recorded or not isinstance(template, str):
            return  # recorded by the route, or no route matched (nothing is named, nothing changed)
        if NOT_AUDITED_TAGS.intersection(getattr(route, "tags", ()) or ()):
            return
        params = {k: str(v) for k, v in (scope.get("path_params") or {}).items()}
        values = list(params.values())
        target = values[0] if values else _created_id(answer)
        detail: dict[str, Any] = dict(list(params.items())[1:])
        if note.actor is not None and note.actor.kind is ActorKind.API_KEY and note.user:
            detail["user"] = note.user
        self._audit.record(
            NewAuditRecord(
                ts=now_ms(),
                actor=note.actor,
                action=action_of(scope["method"], template),
                outcome=outcome_of(status),
                target=target,
                tenant=note.tenant,
                address=client_address(scope),
                status=status,
                detail={**detail, **note.extra},
            )
        )


def _created_id(answer: bytes) -> str | None:
    """The id of what a ``201`` made, from its answer (only that field is kept)."""
    if not answer:
        return None
    try:
        body = orjson.loads(answer)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict):
        return None
    for key in ("id", "username", "name"):
        value = body.get(key)
        if isinstance(value, str):
            return value[:200]
    return None

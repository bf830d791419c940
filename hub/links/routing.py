"""Where a request under ``/apps`` goes, and whether it may: the app link's routing and authorization.

1. ``/apps/{tenant}/{app}`` without the trailing slash is redirected (307) to it;
2. where the link leads (:meth:`hub.deploy.deployments.Deployments.link`, cached for :data:`TARGETS_TTL_S`, and
   forgotten at once when a node says it has no such instance);
3. unless the app is public, the caller's bearer token (or the portal's session cookie) must be of the app's
   tenant or a platform admin's: none or a bad one is 401; another tenant's token and an unknown tenant or app
   are the same 404, so nothing leaks (a caller without a token learns nothing either: it gets the 401 first);
4. an instance is picked round-robin among the running ones whose node has a tunnel to this process (503
   when there is none); the app gets the path without the prefix, ``X-Forwarded-Prefix``/``-For``/``-Proto``/
   ``-Host``, and neither hop-by-hop headers nor the hub's token or session cookie.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson

from contracts.api import SESSION_COOKIE
from contracts.errors import ErrorCode
from contracts.ids import is_valid_id
from hub.deploy.links import LinkTargets
from hub.errors import Unauthorized
from hub.links.tunnels import Stream, TunnelError, Tunnels
from hub.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: Bearer token -> the caller's tenant (``None``: a platform admin); raises :class:`Unauthorized`.
Authenticate = Callable[[str], Awaitable[str | None]]
#: ``(tenant, app)`` -> where its link leads, ``None`` if nowhere.
Resolve = Callable[[str, str], Awaitable[LinkTargets | None]]

PREFIX = "/apps"
#: Seconds a link's targets are reused before the store is asked again (a new running instance joins after it).
TARGETS_TTL_S = 1.0
_MAX_CACHED = 10_000
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
_FORWARDED = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-prefix"})
Instance = tuple[str, str, int]  # (deployment, node, replica)


class LinkRefused(Exception):
    """An answer other than the app's: status, error code and message."""

    def __init__(self, status: int, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class Redirect(LinkRefused):
    def __init__(self, location: str) -> None:
        super().__init__(307, ErrorCode.NOT_FOUND, location)


@dataclass(slots=True)
class Target:
    """Where one request goes: the link (tenant, app), the instance, the service, the path to ask it for and the
    headers to send."""

    link: tuple[str, str]
    prefix: str
    instance: Instance
    service: str
    path: bytes
    headers: list[tuple[bytes, bytes]]


def error_body(code: ErrorCode, message: str) -> bytes:
    """The API's error shape."""
    return orjson.dumps({"error": {"code": code.value, "message": message}})


class Router:
    """Routes and authorizes link requests (steps 1 to 4 of the module docstring), and answers refusals."""

    def __init__(self, resolve: Resolve, authenticate: Authenticate, tunnels: Tunnels, metrics: Metrics) -> None:
        self._resolve = resolve
        self._authenticate = authenticate
        self.tunnels = tunnels
        self._metrics = metrics
        self._targets: dict[tuple[str, str], tuple[float, LinkTargets | None]] = {}
        self._turns: dict[tuple[str, str], itertools.count[int]] = {}

    async def route(self, scope: Scope) -> Target:
        """Where the request goes, with the headers to send; :class:`LinkRefused` for any other answer."""
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        parts = raw.split(b"/", 4)  # b"", b"apps", tenant, app[, rest]
        tenant, app = (parts[2].decode("latin-1"), parts[3].decode("latin-1")) if len(parts) >= 4 else ("", "")
        if not (is_valid_id(tenant) and is_valid_id(app)):
            raise LinkRefused(404, ErrorCode.NOT_FOUND, "no such app")
        prefix = f"{PREFIX}/{tenant}/{app}"
        if len(parts) == 4:
            query = scope.get("query_string") or b""
            raise Redirect(prefix + "/" + (f"?{query.decode('latin-1')}" if query else ""))
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        targets = await self._targets_of(tenant, app)
        bearer = _bearer(headers)
        strip_auth = False
        if targets is None or not targets.public:
            token = bearer or _session_cookie(headers)
            if token is None:
                raise LinkRefused(401, ErrorCode.UNAUTHORIZED, "missing bearer token; get one from /api/v1/auth/token")
            try:
                caller = await self._authenticate(token)
            except Unauthorized as exc:
                raise LinkRefused(401, ErrorCode.UNAUTHORIZED, exc.message) from None
            if targets is None or caller not in (None, tenant):
                raise LinkRefused(404, ErrorCode.NOT_FOUND, f"no app {app!r} of tenant {tenant!r}")
            strip_auth = True
        elif bearer is not None:
            strip_auth = await self._is_hub_token(bearer)
        instance = self._pick(tenant, app, targets)
        path = b"/" + (parts[4] if len(parts) > 4 else b"")
        query = scope.get("query_string") or b""
        if query:
            path += b"?" + query
        forwarded = _forwarded(scope, headers, prefix, strip_auth)
        return Target((tenant, app), prefix, instance, targets.service, path, forwarded)

    async def _targets_of(self, tenant: str, app: str) -> LinkTargets | None:
        key = (tenant, app)
        now = time.monotonic()
        cached = self._targets.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await self._resolve(tenant, app)
        if len(self._targets) >= _MAX_CACHED:
            self._targets.clear()
        self._targets[key] = (now + TARGETS_TTL_S, found)
        return found

    async def _is_hub_token(self, token: str) -> bool:
        try:
            await self._authenticate(token)
        except Unauthorized:
            return False  # the app's own credentials, for the app
        return True

    def _pick(self, tenant: str, app: str, targets: LinkTargets) -> Instance:
        live = [i for i in targets.instances if self.tunnels.get(i[1]) is not None]
        if not live:
            why = "none is running" if not targets.instances else "the nodes running it are not connected to the hub"
            raise LinkRefused(
                503,
                ErrorCode.UNAVAILABLE,
                f"app {app!r} has no running instance; {why} (see GET /api/v1/deployments for its status)",
            )
        turn = self._turns.get((tenant, app))
        if turn is None:
            turn = self._turns[(tenant, app)] = itertools.count()
        return live[next(turn) % len(live)]

    def forget(self, tenant: str, app: str) -> None:
        """Ask the store again on the next request (an instance stopped, or a node no longer has it)."""
        self._targets.pop((tenant, app), None)

    async def connect(self, target: Target) -> Stream:
        """A new stream to the target's service; :class:`LinkRefused` (502) if the node cannot open one."""
        deployment, node, replica = target.instance
        try:
            return await self.tunnels.open_stream(node, deployment, replica, target.service)
        except TunnelError as exc:
            # The instance stopped or the node lost it: the next request asks the store where the link leads.
            self.forget(*target.link)
            raise LinkRefused(502, ErrorCode.UNAVAILABLE, f"cannot reach the app: {exc.message}") from None

    async def answer_error(self, send: Send, refused: LinkRefused) -> None:
        """Send an error in the API's shape (or the redirect) as the whole answer."""
        if isinstance(refused, Redirect):
            headers = [(b"location", refused.message.encode("latin-1")), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 307, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        self._metrics.api_errors.labels(refused.code.value).inc()
        body = error_body(refused.code, refused.message)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if refused.status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": refused.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def refuse_websocket(self, send: Send, scope: Scope, refused: LinkRefused) -> None:
        """Refuse a WebSocket before its handshake: an HTTP answer in the API's shape where the server can."""
        if "websocket.http.response" in scope.get("extensions", {}) and not isinstance(refused, Redirect):
            self._metrics.api_errors.labels(refused.code.value).inc()
            body = error_body(refused.code, refused.message)
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "websocket.http.response.start", "status": refused.status, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
            return
        await send({"type": "websocket.close", "code": 4000 + refused.status, "reason": refused.message[:120]})


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() or None if scheme.lower() == "bearer" else None
    return None


_SESSION_COOKIE = SESSION_COOKIE.encode()


def _cookies(value: bytes) -> list[bytes]:
    return [part.strip() for part in value.split(b";") if part.strip()]


def _session_cookie(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"cookie":
            for cookie in _cookies(value):
                key, _, token = cookie.partition(b"=")
                if key == _SESSION_COOKIE and token:
                    return token.decode("latin-1")
    return None


def _forwarded(
    scope: Scope, headers: list[tuple[bytes, bytes]], prefix: str, strip_auth: bool
) -> list[tuple[bytes, bytes]]:
    """The request's headers as the app gets them."""
    drop = set(HOP_BY_HOP | _FORWARDED)
    if strip_auth:
        drop.add(b"authorization")
    for name, value in headers:
        if name == b"connection":
            drop.update(token.strip().lower() for token in value.split(b","))
    kept = []
    for name, value in headers:
        if name == b"cookie":
            # The hub's session is not the app's to see (nor to replay against the API).
            others = [c for c in _cookies(value) if c.partition(b"=")[0] != _SESSION_COOKIE]
            if others:
                kept.append((name, b"; ".join(others)))
        elif name not in drop:
            kept.append((name, value))
    host = next((value for name, value in headers if name == b"host"), None)
    if host is None:
        server = scope.get("server") or ("localhost", None)
        host = (server[0] if server[1] is None else f"{server[0]}:{server[1]}").encode()
        kept.append((b"host", host))
    client = scope.get("client")
    scheme = scope.get("scheme", "http")
    kept += [
        (b"x-forwarded-prefix", prefix.encode()),
        (b"x-forwarded-proto", b"https" if scheme in ("https", "wss") else b"http"),
        (b"x-forwarded-host", host),
    ]
    if client:
        kept.append((b"x-forwarded-for", str(client[0]).encode()))
    return kept

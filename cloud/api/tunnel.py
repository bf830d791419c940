"""The gateway to deployed apps: the tunnel endpoint the nodes dial, and the app links under ``/apps``.

``GET /api/v1/nodes/{node_id}/tunnel`` (WebSocket) authenticates the node as for its package downloads (HTTP
Basic, its MQTT username and password, on the upgrade request) and must be a gateway; the accepted socket is
handed to :class:`hub.links.tunnels.Tunnels` for as long as it stays open. Refusals are HTTP answers before the
upgrade (401, 403) where the server can send them, else close codes 4401 and 4403. A node offering the
subprotocol :data:`contracts.tunnel.SUBPROTOCOL` gets it, and batches both ways.

The links (:class:`hub.links.proxy.LinkProxy`) are dispatched ahead of the API's routing and middleware: they
carry the apps' own bodies (streamed, of any size, not the API's limit) on their hot path.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import time

from fastapi import APIRouter, FastAPI, WebSocket
from starlette.types import ASGIApp, Receive, Scope, Send

from cloud.api.errors import count_error, error_response
from cloud.api.nodes import node_identity
from cloud.identity.tokens import TokenService
from cloud.services import Services
from contracts.devices import DeviceKind
from contracts.errors import ErrorCode
from contracts.tunnel import SUBPROTOCOL
from hub.errors import Unauthorized
from hub.links.proxy import LinkProxy
from hub.links.routing import PREFIX

log = logging.getLogger(__name__)

router = APIRouter(tags=["nodes"])
TUNNEL_PATH = "/api/v1/nodes/{node_id}/tunnel"
#: Seconds a token's session is trusted on the links after the store last confirmed it (revocation delay).
SESSION_RECHECK_S = 1.0
_MAX_SESSIONS = 10_000


class _Socket:
    """Starlette's WebSocket as :class:`hub.links.tunnels.Socket`."""

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket

    async def receive(self) -> bytes | None:
        message = await self._ws.receive()
        if message["type"] == "websocket.disconnect":
            return None
        data: bytes | None = message.get("bytes")
        return data if data is not None else b""  # a text message: not a frame, refused by the tunnel

    async def send(self, data: bytes) -> None:
        await self._ws.send_bytes(data)

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(RuntimeError):  # closed already
            await self._ws.close(code, reason)


def _basic(websocket: WebSocket) -> tuple[str | None, str | None]:
    scheme, _, encoded = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return username, password


async def _refuse(websocket: WebSocket, status: int, code: ErrorCode, message: str) -> None:
    count_error(websocket.app, code)
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        headers = {"WWW-Authenticate": 'Basic realm="fieldhub-node"'} if status == 401 else None
        await websocket.send_denial_response(error_response(status, code, message, headers=headers))
    else:
        await websocket.close(4000 + status, message)


@router.websocket(TUNNEL_PATH)
async def node_tunnel(websocket: WebSocket, node_id: str) -> None:
    """The node's tunnel for its apps' links (binary frames of :mod:`contracts.tunnel`)."""
    services: Services = websocket.app.state.services
    try:
        identity = await node_identity(services, node_id, *_basic(websocket))
    except Unauthorized as exc:
        await _refuse(websocket, 401, ErrorCode.UNAUTHORIZED, exc.message)
        return
    device = await services.store.registry.get_device(identity.device_id)
    if device is None or device.kind is not DeviceKind.GATEWAY:
        await _refuse(websocket, 403, ErrorCode.FORBIDDEN, "only a gateway may open a tunnel")
        return
    batches = SUBPROTOCOL in websocket.scope.get("subprotocols", ())
    await websocket.accept(subprotocol=SUBPROTOCOL if batches else None)
    await services.tunnels.serve(node_id, _Socket(websocket), batches=batches)


class LinkAuth:
    """A bearer token on a link -> the caller's tenant (``None``: a platform admin).

    A token's signature and claims are checked once, its session in the store (revocation) at most once per
    :data:`SESSION_RECHECK_S`: a page pulling many assets, or an app under load, costs one lookup a second, not
    one a request. Expiry is checked on every request.
    """

    def __init__(self, tokens: TokenService) -> None:
        self._tokens = tokens
        #: token -> (tenant, session confirmed until (monotonic), expires (epoch s)).
        self._confirmed: dict[str, tuple[str | None, float, int]] = {}

    async def __call__(self, token: str) -> str | None:
        found = self._confirmed.get(token)
        if found is not None and found[1] > time.monotonic() and found[2] > time.time():
            return found[0]
        session = self._tokens.verify(token)
        await self._tokens.check(session)
        if len(self._confirmed) >= _MAX_SESSIONS:
            self._confirmed.clear()
        tenant = session.principal.tenant
        self._confirmed[token] = (tenant, time.monotonic() + SESSION_RECHECK_S, session.expires)
        return tenant


class LinkMount:
    """ASGI middleware sending ``/apps`` and everything under it to the link proxy."""

    def __init__(self, app: ASGIApp, proxy: LinkProxy) -> None:
        self._app = app
        self._proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            if path.startswith(PREFIX) and (len(path) == len(PREFIX) or path[len(PREFIX)] == "/"):
                await self._proxy(scope, receive, send)
                return
        await self._app(scope, receive, send)


def install(app: FastAPI, services: Services) -> None:
    """Add the tunnel route and the links to ``app`` (the links outermost, past the API's middleware)."""
    app.include_router(router)
    proxy = LinkProxy(services.deployments.link, LinkAuth(services.tokens), services.tunnels, services.metrics)
    app.add_middleware(LinkMount, proxy=proxy)

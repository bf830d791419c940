"""The app link: ``/apps/{tenant}/{app}/...`` proxied through the nodes' tunnels to the app's running instances.

A raw ASGI app (no framework routing on the hot path): :mod:`hub.links.routing` decides where a request goes
and whether it may, :mod:`hub.links.http` carries HTTP to the instance, :mod:`hub.links.websocket` relays
WebSockets under the same prefix.
"""

from __future__ import annotations

from hub.links.http import HttpForwarder
from hub.links.routing import Authenticate, LinkRefused, Receive, Resolve, Router, Scope, Send
from hub.links.tunnels import Tunnels
from hub.metrics import Metrics


class LinkProxy:
    """The ASGI app answering under :data:`hub.links.routing.PREFIX`."""

    def __init__(self, resolve: Resolve, authenticate: Authenticate, tunnels: Tunnels, metrics: Metrics) -> None:
        self.router = Router(resolve, authenticate, tunnels, metrics)
        self._http = HttpForwarder(self.router)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            from hub.links.websocket import relay  # noqa: PLC0415 - only links that upgrade need it

            try:
                target = await self.router.route(scope)
            except LinkRefused as refused:
                await self.router.refuse_websocket(send, scope, refused)
                return
            await relay(self.router, scope, receive, send, target)
            return
        if scope["type"] != "http":
            return
        try:
            target = await self.router.route(scope)
            await self._http.forward(scope, receive, send, target)
        except LinkRefused as refused:
            await self.router.answer_error(send, refused)

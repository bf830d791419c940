"""Refuse request bodies over a size limit before anything buffers them.

Declared sizes (``Content-Length``) are refused up front; chunked bodies are counted as they
stream in and cut off at the limit. No route of the API needs more than a few hundred KiB, except those
given their own limit (``routes``: the upload of an app package takes the package size limit).
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloud.api.errors import count_error, error_response
from contracts.errors import ErrorCode

MAX_BODY_BYTES = 1024 * 1024
#: Read and discard up to this much of a refused body so that the client, which is still
#: sending, gets the 413 instead of a reset connection; beyond it the connection is dropped.
DRAIN_BYTES = 16 * 1024 * 1024


class BodyLimit:
    """ASGI middleware answering ``413 payload_too_large`` for bodies over ``limit`` bytes.

    ``routes`` maps ``(METHOD, path)`` of a route to the limit of its bodies instead.
    """

    def __init__(
        self, app: ASGIApp, limit: int = MAX_BODY_BYTES, routes: Mapping[tuple[str, str], int] | None = None
    ) -> None:
        self._app = app
        self._default = limit
        self._routes = dict(routes or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limit = self._routes.get((scope["method"], scope["path"]), self._default)
        refusal = f"request body larger than {limit} bytes"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(scope, receive, send, refusal)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                # Raised inside the route's body parsing: the API's error handler answers it.
                raise HTTPException(413, refusal)
            return message

        await self._app(scope, counting_receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, message: str) -> None:
        drained = 0
        while drained <= DRAIN_BYTES:
            part = await receive()
            drained += len(part.get("body", b""))
            if part["type"] != "http.request" or not part.get("more_body", False):
                break
        count_error(scope["app"], ErrorCode.PAYLOAD_TOO_LARGE)
        response = error_response(413, ErrorCode.PAYLOAD_TOO_LARGE, message, headers={"Connection": "close"})
        await response(scope, receive, send)

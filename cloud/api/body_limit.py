"""Refuse request bodies over a size limit before anything buffers them.

Declared sizes (``Content-Length``) are refused up front; chunked bodies are counted as they
stream in and cut off at the limit. No route of the API needs more than a few hundred KiB.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloud.api.errors import count_error, error_response
from contracts.errors import ErrorCode

MAX_BODY_BYTES = 1024 * 1024
#: Read and discard up to this much of a refused body so that the client, which is still
#: sending, gets the 413 instead of a reset connection; beyond it the connection is dropped.
DRAIN_BYTES = 16 * 1024 * 1024


class BodyLimit:
    """ASGI middleware answering ``413 payload_too_large`` for bodies over ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self._app = app
        self._limit = limit

    @property
    def _message(self) -> str:
        return f"request body larger than {self._limit} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self._limit):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self._limit:
                # Raised inside the route's body parsing: the API's error handler answers it.
                raise HTTPException(413, self._message)
            return message

        await self._app(scope, counting_receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        drained = 0
        while drained <= DRAIN_BYTES:
            message = await receive()
            drained += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        count_error(scope["app"], ErrorCode.PAYLOAD_TOO_LARGE)
        response = error_response(413, ErrorCode.PAYLOAD_TOO_LARGE, self._message, headers={"Connection": "close"})
        await response(scope, receive, send)

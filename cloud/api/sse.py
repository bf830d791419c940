"""Server-Sent Events answers kept within their token's life (:class:`SessionWatch`), with keep-alives.

A stream is a source of batches (``next(wait_s)``: what came within ``wait_s``, maybe nothing) and an encoder
of one item into an SSE frame. The stream ends with an ``end`` event (``{"reason": "token_expired" | "revoked"
| "unavailable"}``) once its token expires or is revoked, checked before every frame and keep-alive, or once the
store cannot serve it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

import orjson
from fastapi.responses import StreamingResponse

from cloud.identity.tokens import SessionWatch, TokenService, TokenSession
from hub.errors import StoreUnavailable

T = TypeVar("T")
KEEPALIVE_S = 15.0


def end_frame(reason: str) -> bytes:
    """The last frame of a stream: why it ends."""
    return b"event: end\ndata: " + orjson.dumps({"reason": reason}) + b"\n\n"


async def watched(
    tokens: TokenService,
    session: TokenSession,
    next_batch: Callable[[float], Awaitable[Sequence[T]]],
    encode: Callable[[T], bytes],
) -> AsyncIterator[bytes]:
    """The frames of one stream: every item of ``next_batch`` encoded, keep-alives between, the end frame last."""
    watch = SessionWatch(tokens, session)
    yield b": connected\n\n"
    keepalive_at = time.monotonic() + KEEPALIVE_S
    while True:
        try:
            items = await next_batch(max(0.0, min(keepalive_at - time.monotonic(), watch.due_in())))
        except StoreUnavailable:
            yield end_frame("unavailable")
            return
        reason = await watch.reason_to_end()
        if reason is not None:
            yield end_frame(reason)
            return
        if items:
            watch.sent()
            for item in items:
                yield encode(item)
        elif time.monotonic() >= keepalive_at:
            yield b": keepalive\n\n"
        else:
            continue  # woken for a check of the session only
        keepalive_at = time.monotonic() + KEEPALIVE_S


def event_stream(frames: AsyncIterator[bytes]) -> StreamingResponse:
    """The HTTP answer carrying ``frames`` (no caching or buffering by proxies)."""
    return StreamingResponse(
        frames, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )

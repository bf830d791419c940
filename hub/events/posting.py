"""The signed JSON ``POST`` that event webhooks and alarm channels both deliver with.

One attempt: sign the body at this moment (:mod:`hub.events.signing`) and post it. Any answer but 2xx, a
timeout or a refused connection is a failure, told in a short text that holds neither the secret nor the URL
(whose path or query may carry a token); the caller decides about retries and counts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from hub.events.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

_ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class Posted:
    """What one attempt came to: the endpoint's status if it answered, and why it failed (None: delivered)."""

    status: int | None
    error: str | None


async def post_signed(
    client: httpx.AsyncClient, url: str, secret: str, body: bytes, headers: Mapping[str, str]
) -> Posted:
    """``POST`` ``body`` (JSON) to ``url`` with ``headers``, signed with ``secret`` now."""
    timestamp = int(time.time())
    signed = {
        "Content-Type": "application/json",
        **headers,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
    try:
        response = await client.post(url, content=body, headers=signed)
    except httpx.HTTPError as exc:
        # httpx puts the request URL in some messages (an invalid one); it is never echoed back.
        text = str(exc).replace(url, "<url>")
        return Posted(None, f"{type(exc).__name__}: {text}"[:_ERROR_CHARS] or type(exc).__name__)
    status = response.status_code
    return Posted(status, None if response.is_success else f"answered {status}")

"""Signatures of webhook deliveries: HMAC-SHA256 over the timestamp and the body, with the webhook's secret.

A delivery carries ``X-Fieldhub-Timestamp: <epoch seconds>`` and ``X-Fieldhub-Signature: sha256=<hex>``, the
hex digest of HMAC-SHA256(secret, ``"<timestamp>." + body``). A receiver computes the same over the raw body it
got, compares in constant time, and refuses a timestamp far from its clock, so a captured delivery cannot be
played back later (docs/api.md#verifying-a-delivery).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Fieldhub-Signature"
TIMESTAMP_HEADER = "X-Fieldhub-Timestamp"
#: How far a receiver following :func:`verify` lets a delivery's timestamp be from its own clock.
TOLERANCE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the signature header for ``body`` sent at ``timestamp`` (epoch seconds)."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, now: float) -> bool:
    """Whether ``signature`` is the hub's for ``body`` at ``timestamp``, within :data:`TOLERANCE_S` of ``now``."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > TOLERANCE_S:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)

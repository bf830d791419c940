"""A token bucket: at most ``per_s`` events a second on average, in bursts of up to ``burst``.

Shared by what must not run away with a resource when its input does: the hub's own log records into the
store, and the notifications of a channel.
"""

from __future__ import annotations

import time


class TokenBucket:
    """Starts full; each :meth:`take` spends a token, and tokens come back at ``per_s`` up to ``burst``.

    Not thread-safe: callers that share one across threads hold a lock around it.
    """

    def __init__(self, per_s: float, burst: float) -> None:
        self.per_s = per_s
        self.burst = burst
        self._tokens = burst
        self._refilled = time.monotonic()

    def take(self, now: float | None = None) -> bool:
        """Whether an event may pass now (``now``: a :func:`time.monotonic` reading, for tests)."""
        now = time.monotonic() if now is None else now
        self._tokens = min(self.burst, self._tokens + max(0.0, now - self._refilled) * self.per_s)
        self._refilled = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

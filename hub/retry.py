"""How Fieldhub waits between attempts: capped exponential backoff with jitter, in one place.

Jitter keeps many hub processes (or many sinks) that lost the same server at the same moment
from coming back at it in lockstep. Each delay is drawn from the upper half of the current
ceiling, so a retry never follows at once and the ceiling still bounds the wait.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays of ``first_s``, doubling up to ``cap_s``, each jittered within ``[ceiling / 2, ceiling]``."""

    first_s: float = 0.05
    cap_s: float = 5.0

    def delays(self) -> Iterator[float]:
        """An endless series of delays in seconds; start a new one after a success."""
        ceiling = self.first_s
        while True:
            yield random.uniform(ceiling / 2, ceiling)  # noqa: S311 - spreading retries, not a secret
            ceiling = min(ceiling * 2, self.cap_s)

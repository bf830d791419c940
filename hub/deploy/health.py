"""A node's health, from the age of its latest heartbeat (see :mod:`hub.deploy.failover` for what follows)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class NodeHealth(StrEnum):
    HEALTHY = "healthy"
    SUSPECT = "suspect"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class HealthThresholds:
    """Ages of a node's latest heartbeat at which it becomes suspect, then dead (seconds)."""

    suspect_s: float = 7.0
    dead_s: float = 10.0

    def of(self, received_ms: int | None, now: int) -> NodeHealth:
        """The health of a node whose latest heartbeat arrived at ``received_ms`` (``None``: never)."""
        if received_ms is None:
            return NodeHealth.DEAD
        age_s = (now - received_ms) / 1000
        if age_s >= self.dead_s:
            return NodeHealth.DEAD
        return NodeHealth.SUSPECT if age_s >= self.suspect_s else NodeHealth.HEALTHY

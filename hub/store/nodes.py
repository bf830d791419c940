"""The nodes' store: the latest heartbeat of each edge node (their log lines are in :mod:`hub.store.logs`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class HeartbeatRecord:
    """A node's latest heartbeat document and when the hub received it (epoch ms)."""

    doc: dict[str, Any]
    received: int


class NodeStore(Protocol):
    """Heartbeats. Implementations are async and safe to share."""

    async def put_heartbeat(self, node_id: str, doc: dict[str, Any], received: int) -> None:
        """Keep ``doc`` as the node's latest heartbeat (older ones are of no use)."""

    async def get_heartbeat(self, node_id: str) -> HeartbeatRecord | None:
        """The node's latest heartbeat, or ``None`` if it never sent one."""

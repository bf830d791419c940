"""The nodes' store: the latest heartbeat of each edge node, and the newest lines of its log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

#: A log line as kept: ``(ts, level, logger, message)``.
LogRow = tuple[int, str, str, str]


@dataclass(frozen=True, slots=True)
class HeartbeatRecord:
    """A node's latest heartbeat document and when the hub received it (epoch ms)."""

    doc: dict[str, Any]
    received: int


class NodeStore(Protocol):
    """Heartbeats and node logs. Implementations are async and safe to share."""

    async def put_heartbeat(self, node_id: str, doc: dict[str, Any], received: int) -> None:
        """Keep ``doc`` as the node's latest heartbeat (older ones are of no use)."""

    async def get_heartbeat(self, node_id: str) -> HeartbeatRecord | None:
        """The node's latest heartbeat, or ``None`` if it never sent one."""

    async def append_logs(self, node_id: str, lines: list[LogRow], keep: int) -> None:
        """Store log lines, keeping only the newest ``keep`` of the node."""

    async def recent_logs(self, node_id: str, limit: int) -> list[LogRow]:
        """The newest ``limit`` lines of a node, oldest first."""

"""The outbox: every stored telemetry batch, in store order, for the consumers that follow ingest.

Ingest acknowledges a message once the store has it; stream sinks and live feeds then read what
was stored from here, each at its own pace and from its own position, so a slow or absent
consumer never holds ingest back. A batch's position is given when it is written (in the same
transaction as its points) and rises in commit order across every process writing to the store.
Durable consumers (stream sinks) keep their position as a named cursor in the store; the outbox
keeps a batch until every cursor has passed it and it is older than the retention.

Appending costs a sixth of batched ingest, so ingest appends only while the outbox is followed: by a
durable cursor (for good, until it goes idle for longer than its expiry) or by a passing follower's
lease (a live feed with subscribers, renewed while it has them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from hub.store.telemetry import Message


@dataclass(frozen=True, slots=True)
class StoredBatch:
    """One write of ingest: its outbox position, when it was written and its messages, in arrival order."""

    position: int
    created: int
    messages: Sequence[Message]


class Outbox(Protocol):
    """Reading the outbox and keeping the consumers' cursors; batches are appended by ``write_points``."""

    async def head(self) -> int:
        """The position of the newest batch written so far (0 when nothing was ever written)."""

    async def since(self, position: int, limit: int) -> list[StoredBatch]:
        """At most ``limit`` batches after ``position``, oldest first."""

    async def oldest_after(self, position: int) -> int | None:
        """When the first batch after ``position`` was written (epoch ms), ``None`` if there is none."""

    async def get_cursor(self, name: str) -> int | None:
        """The saved position of consumer ``name``, ``None`` if it never saved one."""

    async def set_cursor(self, name: str, position: int) -> None:
        """Save the position of consumer ``name`` (everything up to it is handled)."""

    async def trim(self, older_than: int, cursors_idle_since: int) -> int:
        """Delete batches written before ``older_than`` (epoch ms) that every cursor has passed; return how many.

        Cursors not saved since ``cursors_idle_since`` (a stream no process forwards any more) are dropped
        first, so they no longer hold batches back nor keep the outbox followed.
        """

    async def lease(self, follower: str, until: int) -> None:
        """``follower`` reads the outbox until ``until`` (epoch ms), unless it renews the lease."""

    async def release(self, follower: str) -> None:
        """``follower`` stopped reading the outbox."""

    async def followed(self, now: int) -> bool:
        """Whether any cursor exists or any lease runs past ``now``: then ingest appends to the outbox."""

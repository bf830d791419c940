"""The state store: the desired and reported state documents of each device (its twin), versioned."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class StateRecord:
    """A desired or reported state document with its version."""

    doc: dict[str, Any]
    version: int
    updated: int


class StateKind(enum.StrEnum):
    """Which side of the device twin."""

    DESIRED = "desired"
    REPORTED = "reported"


class StateStore(Protocol):
    """Device twins. Implementations are async and safe to share."""

    async def put_state(self, device_id: str, kind: StateKind, doc: dict[str, Any], ts: int) -> StateRecord:
        """Replace a state document, bumping its version."""

    async def get_state(self, device_id: str, kind: StateKind) -> StateRecord | None:
        """A state document or ``None``."""

    async def list_states(self, kind: StateKind) -> list[tuple[str, StateRecord]]:
        """Every device's state of one kind (used to republish desired state at start)."""

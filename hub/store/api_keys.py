"""The API key store: keys for automation, each held for the user who made it.

A key never holds more rights than its creator: a request with it looks the key up together with its
creator's current record (one indexed lookup), so that deleting, disabling or demoting the creator, or
deleting the key, takes effect at once in every hub process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hub.store.identity import UserRecord


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """One API key: never its secret, only a salted digest of it. Times are epoch milliseconds."""

    id: str
    name: str
    #: The username of the user who made it; the key stands for that user.
    creator: str
    role: str
    #: The creator's tenant when the key was made (``None``: a platform admin's key).
    tenant: str | None
    salt: str
    digest: str
    created: int
    expires: int | None = None
    #: When a request last used it, written at most about once a minute.
    last_used: int | None = None


@dataclass(frozen=True, slots=True)
class ApiKeyStatus:
    """A key as a request checks it: the record and its creator as stored now."""

    key: ApiKeyRecord
    creator: UserRecord


class ApiKeyStore(Protocol):
    """API keys. Implementations are async and safe to share."""

    async def create_api_key(self, key: ApiKeyRecord) -> None:
        """Insert a key; :class:`hub.errors.Conflict` if the id exists."""

    async def api_key_status(self, key_id: str) -> ApiKeyStatus | None:
        """The key and its creator in one lookup; ``None`` if either is gone."""

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """One key or ``None``."""

    async def list_api_keys(self, *, tenant: str | None = None, creator: str | None = None) -> list[ApiKeyRecord]:
        """Keys newest first, of one tenant and/or one creator when given (neither: every key)."""

    async def delete_api_key(self, key_id: str) -> bool:
        """Remove a key; ``False`` if there was no such key."""

    async def touch_api_key(self, key_id: str, used: int, *, unless_since: int) -> None:
        """Set the key's ``last_used`` to ``used`` unless it is already at or after ``unless_since``."""

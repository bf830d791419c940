"""The identity store: the local users who sign in to the API (directory users join it later)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A local user; ``tenant`` is ``None`` for platform admins."""

    username: str
    password_hash: str
    role: str
    tenant: str | None
    created: int


class IdentityStore(Protocol):
    """Users. Implementations are async and safe to share."""

    async def create_user(self, user: UserRecord) -> None:
        """Insert a user; :class:`hub.errors.Conflict` if the name exists."""

    async def put_user(self, user: UserRecord) -> None:
        """Insert or replace a user."""

    async def get_user(self, username: str) -> UserRecord | None:
        """One user or ``None``."""

    async def list_users(self, tenant: str | None) -> list[UserRecord]:
        """Users of one tenant, or all users when ``tenant`` is ``None``."""

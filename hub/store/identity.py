"""The identity store: the local users who sign in to the API (directory users join it later), and the
sessions of the tokens issued to them.

A token stands for a session of a user at one token version: every request checks it against the store
(the session is not revoked, the user exists and is still at that version), so a revocation or a change
of a user takes effect at once in every hub process.
"""

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
    #: Raised by every change of the user (password, role, a replacement): tokens of an older version stop working.
    token_version: int = 0
    #: ``local``, or ``ldap`` for a directory user recorded at its sign-in (its ``password_hash`` is empty).
    source: str = "local"
    #: A directory user's latest sign-in (epoch milliseconds); ``None`` for local users.
    last_sign_in: int | None = None
    #: A disabled user neither signs in nor uses its tokens and API keys (an admin sets it).
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One issued API token: its id (the token's ``sid``), whose it is, and when it was issued and expires
    (epoch milliseconds)."""

    id: str
    username: str
    issued: int
    expires: int
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class SessionStatus:
    """A session as a request checks it: the record and its user's current token version."""

    session: SessionRecord
    token_version: int


class IdentityStore(Protocol):
    """Users and their token sessions. Implementations are async and safe to share."""

    async def create_user(self, user: UserRecord) -> None:
        """Insert a user; :class:`hub.errors.Conflict` if the name exists."""

    async def put_user(self, user: UserRecord) -> None:
        """Insert a user, or replace one and raise its token version (its tokens stop working)."""

    async def get_user(self, username: str) -> UserRecord | None:
        """One user or ``None``."""

    async def list_users(self, tenant: str | None) -> list[UserRecord]:
        """Users of one tenant, or all users when ``tenant`` is ``None``."""

    async def update_user(
        self,
        username: str,
        *,
        password_hash: str | None = None,
        role: str | None = None,
        disabled: bool | None = None,
    ) -> UserRecord | None:
        """Change what is given and raise the token version, in one step; the user as now stored, or ``None``."""

    async def delete_user(self, username: str) -> bool:
        """Remove a user, its sessions and its API keys; ``False`` if there was no such user."""

    async def record_directory_user(self, username: str, role: str, tenant: str | None, at: int) -> UserRecord | None:
        """Insert or update a directory user (``source`` ``ldap``, no password hash) as it signs in at ``at``.

        A change of its role or tenant raises its token version. ``None``, changing nothing, when ``username``
        belongs to a local user: the local user wins.
        """

    async def create_session(self, session: SessionRecord) -> None:
        """Record an issued token; sessions expired by ``session.issued`` are purged on the way."""

    async def session_status(self, session_id: str) -> SessionStatus | None:
        """The session and its user's token version in one indexed lookup; ``None`` if either is gone."""

    async def revoke_session(self, session_id: str) -> bool:
        """Mark a session revoked; ``False`` if there was no such session."""

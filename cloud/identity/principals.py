"""Who is calling the API and what they may see."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from hub.errors import Forbidden


class Role(enum.StrEnum):
    """``admin`` manages (its tenant or, without a tenant, the platform); ``user`` manages devices."""

    ADMIN = "admin"
    USER = "user"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated API caller; ``tenant`` is ``None`` only for platform admins."""

    username: str
    role: Role
    tenant: str | None
    #: The user's token version when it signed in (local users), so that a token issued after a change
    #: made during the sign-in is already stale; ``None`` when the provider keeps no version.
    token_version: int | None = field(default=None, compare=False)
    #: Where the user comes from: ``local``, or ``ldap`` (a directory user, see :mod:`cloud.identity.ldap`).
    source: str = field(default="local", compare=False)
    #: The longest life of a token issued to it (a directory user's ``ldap.recheck_s``); ``None``: ``token_ttl_s``.
    token_ttl_s: int | None = field(default=None, compare=False)
    #: The id of the API key the caller used (it acts for the key's creator, with the key's role); else ``None``.
    api_key: str | None = field(default=None, compare=False)
    #: Whether the account is disabled (in listings of users: a disabled user never signs in).
    disabled: bool = field(default=False, compare=False)

    @property
    def is_platform_admin(self) -> bool:
        return self.tenant is None and self.role is Role.ADMIN

    def can_see(self, tenant: str) -> bool:
        """Whether objects of ``tenant`` are visible to this caller."""
        return self.tenant is None or self.tenant == tenant

    def require_platform_admin(self) -> None:
        if not self.is_platform_admin:
            raise Forbidden("only a platform admin may do this")

    def require_admin(self) -> None:
        if self.role is not Role.ADMIN:
            raise Forbidden("only an admin may do this")

"""Who may sign in: identity providers behind one interface, tried in order.

Local users are the one provider today; a directory (LDAP) is another implementation of the same
interface, added after them so that local users and the platform admin still sign in when the
directory is away.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cloud.identity.principals import Principal
from hub.errors import Unauthorized


class IdentityProvider(Protocol):
    """Checks a username and password and says who that is."""

    name: str

    async def authenticate(self, username: str, password: str) -> Principal | None:
        """The principal, or ``None`` when this provider does not know the user or the password is wrong."""


class SignIn:
    """Tries each provider in turn; the first that accepts decides. Every refusal is the same."""

    def __init__(self, providers: Sequence[IdentityProvider]) -> None:
        self._providers = list(providers)

    async def authenticate(self, username: str, password: str) -> Principal:
        """The principal, or :class:`Unauthorized` (never saying which provider, user or password failed)."""
        for provider in self._providers:
            principal = await provider.authenticate(username, password)
            if principal is not None:
                return principal
        raise Unauthorized("wrong username or password")

"""Local users with scrypt-hashed passwords."""

from __future__ import annotations

import asyncio
import logging
import time

from cloud.identity.principals import Principal, Role
from hub.errors import InvalidInput
from hub.security.passwords import ScryptParams, hash_password, new_secret, verify_password
from hub.store.identity import IdentityStore, UserRecord

log = logging.getLogger(__name__)
ADMIN = "admin"
# Verified when the user is unknown, so that response time does not tell which names exist.
_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


class UserDirectory:
    """The local users: an identity provider (see :mod:`cloud.identity.providers`), and their accounts."""

    name = "local"

    def __init__(self, store: IdentityStore, hash_params: ScryptParams) -> None:
        self._store = store
        self._params = hash_params

    async def authenticate(self, username: str, password: str) -> Principal | None:
        record = await self._store.get_user(username[:128])
        encoded = record.password_hash if record is not None else _DUMMY_HASH
        ok = await asyncio.to_thread(verify_password, password, encoded)
        if record is None or not ok:
            return None
        return Principal(record.username, Role(record.role), record.tenant)

    async def create(self, username: str, password: str, role: Role, tenant: str | None) -> Principal:
        if tenant is None and role is not Role.ADMIN:
            raise InvalidInput("a user without a tenant must be a platform admin")
        if len(password) < 12:
            raise InvalidInput("passwords need at least 12 characters")
        encoded = await asyncio.to_thread(hash_password, password, self._params)
        await self._store.create_user(UserRecord(username, encoded, role.value, tenant, int(time.time() * 1000)))
        log.info("created user %s (%s) in tenant %s", username, role.value, tenant or "-")
        return Principal(username, role, tenant)

    async def list(self, tenant: str | None) -> list[Principal]:
        return [Principal(u.username, Role(u.role), u.tenant) for u in await self._store.list_users(tenant)]

    async def ensure_admin(self, password: str | None, *, reset: bool) -> str | None:
        """Make sure the platform admin exists.

        Returns the password to show once when one was generated, else ``None``.
        ``password`` (from FIELDHUB_ADMIN_PASSWORD) always wins; ``reset`` replaces a
        stored password with a generated one (demo mode).
        """
        existing = await self._store.get_user(ADMIN)
        generated: str | None = None
        if password is None:
            if existing is not None and not reset:
                return None
            password = generated = new_secret()[:20]
        encoded = await asyncio.to_thread(hash_password, password, self._params)
        created = existing.created if existing is not None else int(time.time() * 1000)
        await self._store.put_user(UserRecord(ADMIN, encoded, Role.ADMIN.value, None, created))
        return generated

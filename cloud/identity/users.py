"""Local users with scrypt-hashed passwords.

Every change of a user (password, role, deletion, the platform admin's password reset at start) raises its
token version in the store, in the same step: every token it holds stops working at once.
"""

from __future__ import annotations

import asyncio
import logging
import time

from cloud.identity.principals import Principal, Role
from hub.errors import InvalidInput, NotFound, Unauthorized
from hub.security.passwords import ScryptParams, hash_password, new_secret, verify_password
from hub.store.identity import IdentityStore, UserRecord

log = logging.getLogger(__name__)
ADMIN = "admin"


class UserDirectory:
    """The local users: an identity provider (see :mod:`cloud.identity.providers`), and their accounts."""

    name = "local"

    def __init__(self, store: IdentityStore, hash_params: ScryptParams) -> None:
        self._store = store
        self._params = hash_params
        #: Verified when the user is unknown, so that response time does not tell which names exist: made with
        #: the hub's own work factors, so it costs what a stored user's hash costs (a fixed one would not).
        self.dummy_hash = hash_password(new_secret(), hash_params)

    async def authenticate(self, username: str, password: str) -> Principal | None:
        record = await self._store.get_user(username[:128])
        if record is not None and record.source != "local":
            record = None  # a directory user's row has no password: the directory decides (cloud/identity/ldap.py)
        encoded = record.password_hash if record is not None else self.dummy_hash
        ok = await asyncio.to_thread(verify_password, password, encoded)
        if record is None or not ok or record.disabled:
            return None  # a disabled user is refused as a wrong password is, after the same work
        return _principal(record)

    async def create(self, username: str, password: str, role: Role, tenant: str | None) -> Principal:
        if tenant is None and role is not Role.ADMIN:
            raise InvalidInput("a user without a tenant must be a platform admin")
        encoded = await self._hash(password)
        await self._store.create_user(UserRecord(username, encoded, role.value, tenant, int(time.time() * 1000)))
        log.info("created user %s (%s) in tenant %s", username, role.value, tenant or "-")
        return Principal(username, role, tenant)

    async def list(self, tenant: str | None) -> list[Principal]:
        return [_principal(u) for u in await self._store.list_users(tenant)]

    async def get(self, username: str) -> Principal | None:
        record = await self._store.get_user(username)
        return None if record is None else _principal(record)

    async def update(
        self, username: str, *, password: str | None = None, role: Role | None = None, disabled: bool | None = None
    ) -> Principal:
        """Change a user's password, role and/or whether it is disabled; its tokens stop working.

        :class:`NotFound` if there is none. Disabling also stops its API keys (checked on every use) until it is
        enabled again; its tokens stay revoked.
        """
        record = await self._store.get_user(username)
        if record is None:
            raise NotFound("user", username)
        if record.source != "local" and (password is not None or role is not None):
            raise InvalidInput("a directory user's password and role come from the directory (its groups)")
        if record.tenant is None and role is not None and role is not Role.ADMIN:
            raise InvalidInput("a user without a tenant must be a platform admin")
        encoded = None if password is None else await self._hash(password)
        updated = await self._store.update_user(
            username, password_hash=encoded, role=None if role is None else role.value, disabled=disabled
        )
        if updated is None:
            raise NotFound("user", username)
        asked = (("password", password), ("role", role), ("disabled", disabled))
        changed = [what for what, value in asked if value is not None]
        log.info("changed the %s of user %s; its tokens are revoked", " and ".join(changed) or "nothing", username)
        return _principal(updated)

    async def change_own_password(self, username: str, current: str, new: str) -> None:
        """A user's own change: the current password must be right (:class:`Unauthorized` otherwise)."""
        record = await self._store.get_user(username)
        if record is None or not await asyncio.to_thread(verify_password, current, record.password_hash):
            raise Unauthorized("wrong password")
        await self.update(username, password=new)

    async def delete(self, username: str) -> None:
        """Remove a user and its sessions; :class:`NotFound` if there is none."""
        if not await self._store.delete_user(username):
            raise NotFound("user", username)
        log.info("deleted user %s; its tokens are revoked", username)

    async def _hash(self, password: str) -> str:
        if len(password) < 12:
            raise InvalidInput("passwords need at least 12 characters")
        return await asyncio.to_thread(hash_password, password, self._params)

    async def ensure_admin(self, password: str | None, *, reset: bool) -> str | None:
        """Make sure the platform admin exists.

        Returns the password to show once when one was generated, else ``None``.
        ``password`` (from FIELDHUB_ADMIN_PASSWORD) always wins; ``reset`` replaces a
        stored password with a generated one (demo mode). Replacing the password raises the
        admin's token version, so its earlier tokens stop working; an unchanged one keeps them
        (every replica starting with the same setting).
        """
        existing = await self._store.get_user(ADMIN)
        generated: str | None = None
        if password is None:
            if existing is not None and not reset:
                return None
            password = generated = new_secret()[:20]
        elif (
            existing is not None
            and (existing.role, existing.tenant) == (Role.ADMIN.value, None)
            and await asyncio.to_thread(verify_password, password, existing.password_hash)
        ):
            return None
        encoded = await asyncio.to_thread(hash_password, password, self._params)
        created = existing.created if existing is not None else int(time.time() * 1000)
        await self._store.put_user(UserRecord(ADMIN, encoded, Role.ADMIN.value, None, created))
        return generated


def _principal(record: UserRecord) -> Principal:
    return Principal(
        record.username, Role(record.role), record.tenant, record.token_version, record.source, disabled=record.disabled
    )

"""API keys for automation: long-lived bearer secrets that act for the user who made them.

A key reads ``fhk_<id>_<secret>``: the prefix tells it from a JWT at a glance (and to secret scanners), the
id finds its row in one indexed lookup, and only a digest of the secret is stored. A key never holds more
rights than its creator: its role is at most the creator's and its tenant is the creator's, and both are
checked against the creator as stored now on every use, so a creator deleted, disabled or demoted stops
its keys at once in every hub process, as a deleted key stops.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable

from cloud.identity.principals import Principal, Role
from cloud.identity.tokens import API_KEY_PREFIX, TokenSession
from hub.errors import Forbidden, NotFound, Unauthorized
from hub.store.api_keys import ApiKeyRecord, ApiKeyStore

log = logging.getLogger(__name__)

PREFIX = API_KEY_PREFIX
#: ``last_used`` is written at most this often per key (milliseconds), so that busy automation does not
#: turn every request into a write.
TOUCH_EVERY_MS = 60_000
#: The ``expires`` of a session of a key that never expires (epoch seconds; the end of year 9999).
NEVER = 253_402_300_799
_RANK = {Role.USER: 0, Role.ADMIN: 1}


def is_api_key(token: str) -> bool:
    """Whether a bearer token is an API key (else it is taken for a JWT)."""
    return token.startswith(PREFIX)


def _digest(salt: str, key_id: str, secret: str) -> str:
    # A fast keyed hash, not scrypt as for passwords: the secret is 256 random bits, so guessing it is hopeless
    # at any hashing speed, while a slow hash would cost every API request tens of milliseconds of CPU. The
    # per-key salt keeps digests unlinkable, and the id in the message ties a digest to its row.
    return hmac.new(salt.encode(), f"{key_id}\0{secret}".encode(), hashlib.sha256).hexdigest()


def _split(token: str) -> tuple[str, str]:
    _, key_id, secret = [*token.split("_", 2), "", ""][:3]
    if not key_id or not secret:
        raise Unauthorized("invalid API key")
    return key_id, secret


def outranks(role: Role, other: Role) -> bool:
    """Whether ``role`` holds more rights than ``other``."""
    return _RANK[role] > _RANK[other]


class ApiKeys:
    """Makes, lists, checks and revokes API keys kept in ``store``."""

    def __init__(self, store: ApiKeyStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def create(
        self, creator: Principal, name: str, role: Role | None = None, expires_in_s: int | None = None
    ) -> tuple[ApiKeyRecord, str]:
        """A new key of ``creator`` (its role unless ``role``, never above it) and the key itself, to show once.

        :class:`Forbidden` if ``role`` is more than the creator's.
        """
        role = role or creator.role
        if outranks(role, creator.role):
            raise Forbidden(f"a key cannot have more rights than its creator ({creator.role.value})")
        key_id, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_hex(16)
        now = int(self._clock() * 1000)
        record = ApiKeyRecord(
            id=key_id,
            name=name,
            creator=creator.username,
            role=role.value,
            tenant=creator.tenant,
            salt=salt,
            digest=_digest(salt, key_id, secret),
            created=now,
            expires=None if expires_in_s is None else now + expires_in_s * 1000,
        )
        await self._store.create_api_key(record)
        log.info("%s made API key %s (%s) in tenant %s", creator.username, key_id, role.value, creator.tenant or "-")
        return record, f"{PREFIX}{key_id}_{secret}"

    async def list(self, principal: Principal) -> list[ApiKeyRecord]:
        """The keys ``principal`` may see: all (platform admin), its tenant's (tenant admin), else its own."""
        if principal.is_platform_admin:
            return await self._store.list_api_keys()
        if principal.role is Role.ADMIN:
            return await self._store.list_api_keys(tenant=principal.tenant)
        return await self._store.list_api_keys(creator=principal.username)

    async def revoke(self, principal: Principal, key_id: str) -> None:
        """Delete a key ``principal`` may see; it stops working at once. :class:`NotFound` otherwise."""
        record = await self._store.get_api_key(key_id)
        if record is None or not self._visible(principal, record):
            raise NotFound("api key", key_id)
        await self._store.delete_api_key(key_id)
        log.info("%s revoked API key %s", principal.username, key_id)

    async def authenticate(self, token: str) -> TokenSession:
        """The session a key stands for: :class:`Unauthorized` unless key and creator are good."""
        key_id, secret = _split(token)
        now_ms = int(self._clock() * 1000)
        status = await self._store.api_key_status(key_id)
        if status is None or not hmac.compare_digest(status.key.digest, _digest(status.key.salt, key_id, secret)):
            raise Unauthorized("invalid API key")
        key, creator = status.key, status.creator
        principal = Principal(key.creator, Role(key.role), key.tenant, api_key=key.id)
        session = TokenSession(principal, key.id, 0, NEVER if key.expires is None else key.expires // 1000)
        self._refuse_unless_good(key, creator.role, creator.tenant, creator.disabled, now_ms)
        if key.last_used is None or key.last_used <= now_ms - TOUCH_EVERY_MS:
            await self._store.touch_api_key(key.id, now_ms, unless_since=now_ms - TOUCH_EVERY_MS)
        return session

    async def check(self, session: TokenSession) -> None:
        """:class:`Unauthorized` unless the key of ``session`` is still good (a live stream asks again)."""
        status = await self._store.api_key_status(session.id)
        if status is None or status.key.creator != session.principal.username:
            raise Unauthorized("API key revoked")
        creator = status.creator
        self._refuse_unless_good(status.key, creator.role, creator.tenant, creator.disabled, int(self._clock() * 1000))

    async def delete(self, key_id: str) -> None:
        """Revoke a key by id (its own holder signing out)."""
        await self._store.delete_api_key(key_id)
        log.info("API key %s revoked by its holder", key_id)

    @staticmethod
    def _refuse_unless_good(key: ApiKeyRecord, role: str, tenant: str | None, disabled: bool, now_ms: int) -> None:
        if key.expires is not None and now_ms >= key.expires:
            raise Unauthorized("API key expired")
        if disabled or tenant != key.tenant or outranks(Role(key.role), Role(role)):
            # The creator was disabled, moved or demoted: the key may hold no more than its creator now does.
            raise Unauthorized("API key revoked")

    @staticmethod
    def _visible(principal: Principal, key: ApiKeyRecord) -> bool:
        if principal.is_platform_admin or key.creator == principal.username:
            return True
        return principal.role is Role.ADMIN and principal.tenant is not None and key.tenant == principal.tenant

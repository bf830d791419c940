"""Device authentication for brokers: username = device id, password = device secret.

Secrets are hashed fast (:func:`hub.security.passwords.hash_secret`), but devices registered
before that keep scrypt hashes, tens of milliseconds each to verify: checks run on threads of
their own, and successful ones are cached by a keyed digest of the secret.
:meth:`DeviceAuthenticator.invalidate` drops a device from the cache at once; a generation
counter keeps a check that was already running from caching a secret that was rotated meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor

from contracts.errors import AuthRefusal, ErrorCode, FieldhubError
from contracts.ids import is_valid_id
from hub.broker.base import DeviceIdentity
from hub.logutil import RateLimitedLog
from hub.metrics import Metrics
from hub.security.passwords import verify_secret
from hub.store.registry import RegistryStore

log = logging.getLogger(__name__)


class AuthRefused(FieldhubError):
    """The broker must refuse this connection; ``reason`` is counted."""

    code = ErrorCode.UNAUTHORIZED

    def __init__(self, reason: AuthRefusal) -> None:
        super().__init__(f"connection refused: {reason.value}", reason=reason.value)
        self.reason: AuthRefusal = reason


class DeviceAuthenticator:
    """Checks device credentials against the store, with an invalidatable cache."""

    def __init__(self, store: RegistryStore, metrics: Metrics, hash_threads: int = 2) -> None:
        self._store = store
        # Own threads: a connect storm queues here instead of starving every other to_thread user.
        self._hasher = ThreadPoolExecutor(max_workers=hash_threads, thread_name_prefix="device-auth")
        self._metrics = metrics
        self._key = secrets.token_bytes(32)  # per process: cache digests mean nothing elsewhere
        self._cache: dict[str, tuple[bytes, DeviceIdentity]] = {}
        self._generation: dict[str, int] = {}
        self._log = RateLimitedLog(log)

    def _digest(self, secret: str) -> bytes:
        return hmac.new(self._key, secret.encode(), hashlib.sha256).digest()

    def close(self) -> None:
        """Stop the hashing threads."""
        self._hasher.shutdown(wait=False, cancel_futures=True)

    def invalidate(self, device_id: str) -> None:
        """Forget a device's cached credentials (rotate, disable, delete)."""
        self._cache.pop(device_id, None)
        self._generation[device_id] = self._generation.get(device_id, 0) + 1

    async def authenticate(
        self, username: str | None, password: str | None, *, via: str = "MQTT connection"
    ) -> DeviceIdentity:
        """Return the device's identity or raise :class:`AuthRefused` (counted and logged as refused ``via``)."""
        try:
            return await self._check(username, password)
        except AuthRefused as exc:
            self._metrics.auth_refused_by[exc.reason].inc()
            self._log.warning(
                f"auth:{exc.reason}", "refused %s of %r: %s", via, (username or "")[:64], exc.reason.value
            )
            raise

    async def _check(self, username: str | None, password: str | None) -> DeviceIdentity:
        if not username or not password:
            raise AuthRefused(AuthRefusal.NO_CREDENTIALS)
        if not is_valid_id(username):
            raise AuthRefused(AuthRefusal.UNKNOWN_DEVICE)
        digest = self._digest(password)
        cached = self._cache.get(username)
        if cached is not None and hmac.compare_digest(cached[0], digest):
            return cached[1]
        generation = self._generation.get(username, 0)
        record = await self._store.get_device_secret(username)
        if record is None:
            raise AuthRefused(AuthRefusal.UNKNOWN_DEVICE)
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(self._hasher, verify_secret, password, record.secret_hash):
            raise AuthRefused(AuthRefusal.BAD_PASSWORD)
        if not record.enabled:
            raise AuthRefused(AuthRefusal.DISABLED)
        identity = DeviceIdentity(record.device_id, record.tenant)
        if self._generation.get(username, 0) == generation:
            self._cache[username] = (digest, identity)
        return identity

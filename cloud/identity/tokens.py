"""Signed, expiring bearer tokens (JWT, HS256), each standing for a session in the identity store.

A token names its session (``sid``) and the token version of its user (``ver``). The signature and
expiry are checked locally; whether the session is still good (not revoked, its user still there and
at that version) is asked of the store on every request, so that every hub process sees a sign-out or
a change of a user at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import jwt

from cloud.identity.principals import Principal, Role
from hub.errors import StoreUnavailable, Unauthorized
from hub.store.identity import IdentityStore, SessionRecord

log = logging.getLogger(__name__)
_ISSUER = "fieldhub"


def load_or_create_key(path: Path) -> str:
    """Read the signing key from ``path`` or create it there (mode 0600) on first start."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    log.info("generated a secret in %s", path)
    return key


@dataclass(frozen=True, slots=True)
class TokenSession:
    """A token whose signature and expiry were checked: who it stands for, its session and version."""

    principal: Principal
    id: str
    version: int
    #: The token's ``exp``, epoch seconds.
    expires: int


#: What every API key begins with (:mod:`cloud.identity.api_keys`): a bearer token without it is a JWT.
API_KEY_PREFIX = "fhk_"


class KeyAuthority(Protocol):
    """Checks and revokes API keys (:class:`cloud.identity.api_keys.ApiKeys`) for the token service."""

    async def authenticate(self, token: str) -> TokenSession:
        """The session a key stands for, or :class:`Unauthorized`."""

    async def check(self, session: TokenSession) -> None:
        """:class:`Unauthorized` unless the key behind ``session`` is still good."""

    async def delete(self, key_id: str) -> None:
        """Revoke a key."""


class TokenService:
    """Issues, verifies and revokes API tokens; sessions and token versions live in ``store``.

    A bearer secret with the API key prefix is handed to ``api_keys`` instead (without one, keys are refused).
    """

    def __init__(self, key: str, ttl_s: int, store: IdentityStore, api_keys: KeyAuthority | None = None) -> None:
        self._key = key
        self.ttl_s = ttl_s
        self._store = store
        self._api_keys = api_keys

    async def issue(self, principal: Principal) -> str:
        """A token for ``principal`` and the session it stands for.

        The token carries the user's version as it was at sign-in, so a change made meanwhile already
        revokes it; :class:`Unauthorized` if the store does not know the user.
        """
        version = principal.token_version
        if version is None:
            user = await self._store.get_user(principal.username)
            if user is None:
                raise Unauthorized("this user cannot hold API tokens")
            version = user.token_version
        now = time.time()
        issued, expires = int(now), int(now) + self.ttl_for(principal)
        session = SessionRecord(secrets.token_urlsafe(16), principal.username, int(now * 1000), expires * 1000)
        await self._store.create_session(session)
        claims = {
            "iss": _ISSUER,
            "sub": principal.username,
            "role": principal.role.value,
            "tenant": principal.tenant,
            "sid": session.id,
            "ver": version,
            "iat": issued,
            "exp": expires,
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def ttl_for(self, principal: Principal) -> int:
        """Seconds a token issued to ``principal`` lives: ``ttl_s``, or less where its provider says so (a
        directory user's group membership is checked again at its next sign-in, at the latest this long after)."""
        bound = principal.token_ttl_s
        return self.ttl_s if bound is None else min(self.ttl_s, bound)

    def verify(self, token: str) -> TokenSession:
        """Check signature, issuer and expiry (no store): :class:`Unauthorized` if any is wrong."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                issuer=_ISSUER,
                options={"require": ["exp", "sub", "sid", "ver"]},
            )
            principal = Principal(claims["sub"], Role(claims["role"]), claims.get("tenant"), claims["ver"])
            session = TokenSession(principal, claims["sid"], claims["ver"], claims["exp"])
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise Unauthorized("invalid or expired token") from exc
        if not isinstance(session.id, str) or type(session.version) is not int or type(session.expires) is not int:
            raise Unauthorized("invalid or expired token")
        return session

    async def check(self, session: TokenSession) -> None:
        """:class:`Unauthorized` unless the session is still good: one indexed lookup in the store."""
        if session.principal.api_key is not None:
            await self._keys().check(session)
            return
        status = await self._store.session_status(session.id)
        if (
            status is None
            or status.session.revoked
            or status.session.username != session.principal.username
            or status.token_version != session.version
        ):
            raise Unauthorized("token revoked")

    async def authenticate(self, token: str) -> TokenSession:
        """:meth:`verify`, then :meth:`check`; an API key (told by its prefix) is checked by its own service."""
        if token.startswith(API_KEY_PREFIX):
            return await self._keys().authenticate(token)
        session = self.verify(token)
        await self.check(session)
        return session

    def _keys(self) -> KeyAuthority:
        if self._api_keys is None:
            raise Unauthorized("API keys are not accepted here")
        return self._api_keys

    def csrf_token(self, session: TokenSession) -> str:
        """The CSRF token of a browser session: derived from its id with the signing key, so nothing is stored
        and every hub process agrees on it; a page of another origin can neither read nor compute it."""
        digest = hmac.new(self._key.encode(), b"csrf\0" + session.id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def csrf_matches(self, session: TokenSession, given: str | None) -> bool:
        """Whether ``given`` is the session's CSRF token (constant-time)."""
        return hmac.compare_digest((given or "").encode(), self.csrf_token(session).encode())

    async def revoke(self, session: TokenSession) -> None:
        """End one session at once (sign-out); the user's other tokens keep working. Signing out with an API key
        revokes that key."""
        if session.principal.api_key is not None:
            await self._keys().delete(session.id)
            return
        await self._store.revoke_session(session.id)
        log.info("%s signed out (session %s)", session.principal.username, session.id[:6])


class SessionWatch:
    """Keeps a long-lived answer (a live stream) within what its token allows, cheaply.

    Expiry is a comparison with the clock; the store is asked at most once per ``check_every_s``, and
    within that long after anything was sent on the strength of an older answer.
    """

    def __init__(
        self,
        tokens: TokenService,
        session: TokenSession,
        *,
        check_every_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._tokens = tokens
        self._session = session
        self._every = check_every_s
        self._clock = clock
        self._checked = clock()  # the request was checked just now
        self._sent_since_check = False

    def due_in(self) -> float:
        """Seconds until :meth:`reason_to_end` must run again: the token's expiry, or a store check owed."""
        now = self._clock()
        due = self._session.expires - now
        if self._sent_since_check:
            due = min(due, self._checked + self._every - now)
        # A millisecond late rather than early: a timer may fire a hair before its time, and would only wake again.
        return max(due, 0.0) + 0.001

    def sent(self) -> None:
        """Something went out; the store is asked again within ``check_every_s``."""
        self._sent_since_check = True

    async def reason_to_end(self) -> str | None:
        """``token_expired``, ``revoked`` or ``unavailable`` (the store cannot say) when the answer must end."""
        now = self._clock()
        if now >= self._session.expires:
            return "token_expired"
        if now - self._checked < self._every:
            return None
        self._checked = now
        self._sent_since_check = False
        try:
            await self._tokens.check(self._session)
        except Unauthorized:
            return "revoked"
        except StoreUnavailable:
            return "unavailable"  # a session that cannot be checked is not trusted (requests get 503)
        return None

"""Signed, expiring bearer tokens (JWT, HS256)."""

from __future__ import annotations

import logging
import os
import secrets
import time
from pathlib import Path

import jwt

from cloud.identity.principals import Principal, Role
from hub.errors import Unauthorized

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


class TokenService:
    """Issues and verifies API tokens."""

    def __init__(self, key: str, ttl_s: int) -> None:
        self._key = key
        self.ttl_s = ttl_s

    def issue(self, principal: Principal) -> str:
        now = int(time.time())
        claims = {
            "iss": _ISSUER,
            "sub": principal.username,
            "role": principal.role.value,
            "tenant": principal.tenant,
            "iat": now,
            "exp": now + self.ttl_s,
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token, self._key, algorithms=["HS256"], issuer=_ISSUER, options={"require": ["exp", "sub"]}
            )
            return Principal(username=claims["sub"], role=Role(claims["role"]), tenant=claims.get("tenant"))
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise Unauthorized("invalid or expired token") from exc

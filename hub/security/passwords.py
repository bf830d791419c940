"""Slow salted password hashing (scrypt, from the standard library), secret generation and fast hashing of
generated secrets.

Hashes are self-describing (``scrypt$n$r$p$salt$hash``, ``hmac-sha256$salt$hash``) so that work factors can be
raised, and schemes changed, without invalidating stored credentials.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

_SCHEME = "scrypt"
_SECRET_SCHEME = "hmac-sha256"  # noqa: S105 - a scheme name


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt work factors; the default costs ~16 MiB and tens of milliseconds per hash."""

    n: int = 2**14
    r: int = 8
    p: int = 1


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, params: ScryptParams | None = None) -> str:
    """Hash ``password`` with a fresh random salt."""
    params = params or ScryptParams()
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=params.n, r=params.r, p=params.p, maxmem=256 * 1024 * 1024, dklen=32
    )
    return f"{_SCHEME}${params.n}${params.r}${params.p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """Check ``password`` against a hash made by :func:`hash_password`, in constant time."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != _SCHEME:
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=256 * 1024 * 1024,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def new_secret() -> str:
    """A device secret or generated password: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """Hash a secret the hub generated (:func:`new_secret`: devices, provisioning tokens) with a fresh random salt.

    A keyed SHA-256, not scrypt: a slow hash protects guessable passwords, and 256 random bits cannot be
    guessed at any hashing speed, while scrypt cost every device registration ~70 ms of CPU (an hour for
    100,000 devices) and every uncached connect as much. Never use this for a password a person chose.
    """
    salt = secrets.token_bytes(16)
    digest = hmac.new(salt, secret.encode(), hashlib.sha256).digest()
    return f"{_SECRET_SCHEME}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, encoded: str) -> bool:
    """Check a generated secret against :func:`hash_secret`'s hash, or the scrypt hash kept before it, in
    constant time."""
    scheme, _, rest = encoded.partition("$")
    if scheme != _SECRET_SCHEME:
        return verify_password(secret, encoded)
    salt, _, digest = rest.partition("$")
    try:
        expected = _unb64(digest)
        actual = hmac.new(_unb64(salt), secret.encode(), hashlib.sha256).digest()
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


#: Mosquitto's dynamic security plugin checks PBKDF2-SHA512 with this many rounds by default.
BROKER_HASH_ITERATIONS = 101


@dataclass(frozen=True, slots=True)
class BrokerHash:
    """A secret hashed the way Mosquitto's dynamic security plugin stores it (standard base64)."""

    salt: str
    digest: str
    iterations: int

    def encode(self) -> str:
        return f"pbkdf2-sha512${self.iterations}${self.salt}${self.digest}"

    @classmethod
    def decode(cls, encoded: str) -> BrokerHash:
        scheme, iterations, salt, digest = encoded.split("$")
        if scheme != "pbkdf2-sha512":
            raise ValueError(f"unknown broker hash scheme {scheme!r}")
        return cls(salt, digest, int(iterations))


def broker_hash(secret: str) -> str:
    """Hash a *generated* device secret for a broker that verifies credentials itself.

    Few rounds are enough here, unlike for people's passwords: the secret carries 256 random
    bits, so no amount of guessing recovers it, and the broker pays the rounds on every connect.
    """
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, BROKER_HASH_ITERATIONS)
    return BrokerHash(
        base64.b64encode(salt).decode(), base64.b64encode(digest).decode(), BROKER_HASH_ITERATIONS
    ).encode()

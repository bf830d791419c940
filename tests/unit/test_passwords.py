"""Credential hashing: slow for passwords, fast for generated secrets; salted, self-describing, constant-time."""

from __future__ import annotations

import pytest

from hub.security.passwords import (
    ScryptParams,
    hash_password,
    hash_secret,
    new_secret,
    verify_password,
    verify_secret,
)

FAST = ScryptParams(n=1024)


def test_hash_verifies_only_its_password_and_never_contains_it() -> None:
    secret = new_secret()
    encoded = hash_password(secret, FAST)
    assert verify_password(secret, encoded)
    assert not verify_password(secret + "x", encoded)
    assert not verify_password("", encoded)
    assert secret not in encoded
    assert encoded.startswith("scrypt$1024$8$1$")


def test_each_hash_has_its_own_salt() -> None:
    assert hash_password("same password", FAST) != hash_password("same password", FAST)


def test_default_cost_is_the_production_one() -> None:
    assert hash_password("pw").split("$")[1] == str(2**14)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "plain-text",
        "bcrypt$1$2$3$salt$hash",
        "scrypt$notanumber$8$1$c2FsdA$aGFzaA",
        "scrypt$1000$8$1$c2FsdA$aGFzaA",
        "scrypt$1024$8$1$!!$aGFzaA",
        "scrypt$1024$8$1$c2FsdA",
    ],
)
def test_malformed_hashes_never_verify(encoded: str) -> None:
    assert not verify_password("anything", encoded)


def test_secrets_are_long_and_distinct() -> None:
    secrets = {new_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert all(len(s) >= 43 for s in secrets)


def test_a_generated_secret_hash_is_fast_salted_and_verifies_only_its_secret() -> None:
    secret = new_secret()
    encoded = hash_secret(secret)
    assert encoded.startswith("hmac-sha256$") and secret not in encoded
    assert encoded != hash_secret(secret)
    assert verify_secret(secret, encoded)
    assert not verify_secret(secret + "x", encoded)
    assert not verify_secret("", encoded)


def test_a_secret_hashed_with_scrypt_before_still_verifies() -> None:
    secret = new_secret()
    encoded = hash_password(secret, FAST)
    assert verify_secret(secret, encoded)
    assert not verify_secret(secret + "x", encoded)


@pytest.mark.parametrize("encoded", ["", "plain-text", "hmac-sha256$", "hmac-sha256$!!$aGFzaA", "hmac-sha256$c2FsdA"])
def test_malformed_secret_hashes_never_verify(encoded: str) -> None:
    assert not verify_secret("anything", encoded)

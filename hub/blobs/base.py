"""The blob store interface, its errors and the checks every backend applies (keys, digests)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from typing import Protocol

from contracts.errors import ErrorCode, FieldhubError
from hub.errors import InvalidInput

MAX_KEY_LENGTH = 512
MAX_SEGMENT_LENGTH = 200  # below every filesystem's name limit, with room for a temporary suffix
DEFAULT_CHUNK = 1024 * 1024
# Segments start with a letter or digit: no ".", "..", hidden names or empty segments ("a//b", "/a", "a/").
_KEY = re.compile(r"[a-z0-9][a-z0-9._-]*(?:/[a-z0-9][a-z0-9._-]*)*")
_DIGEST = re.compile(r"[0-9a-f]{64}")


class BlobCorrupt(FieldhubError):
    """A stored blob no longer matches the digest it was stored with; it must not be served."""

    code = ErrorCode.INTERNAL

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"blob {key!r} is corrupt: {problem}")
        self.key = key
        self.problem = problem


class BlobUnavailable(FieldhubError):
    """The blob store cannot be reached or failed; the operation may be retried."""

    code = ErrorCode.UNAVAILABLE
    retryable = True


def validate_key(key: str) -> str:
    """``key`` if it is a safe relative path of ``[a-z0-9._-]`` segments joined by ``/``.

    Raises:
        InvalidInput: naming the rule the key breaks.
    """
    if not isinstance(key, str) or not key:
        raise InvalidInput("a blob key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"blob key longer than {MAX_KEY_LENGTH} characters")
    if not _KEY.fullmatch(key):
        raise InvalidInput(
            f"blob key {key[:80]!r} must be a relative path of segments of [a-z0-9._-], "
            "each starting with a letter or digit (no '..', no leading or doubled '/')"
        )
    if any(len(segment) > MAX_SEGMENT_LENGTH for segment in key.split("/")):
        raise InvalidInput(f"a segment of blob key {key[:80]!r} is longer than {MAX_SEGMENT_LENGTH} characters")
    return key


def sha256_hex(data: bytes) -> str:
    """The digest blobs are stored under: lowercase hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


def check_digest(key: str, data: bytes, digest: str) -> None:
    """Refuse a ``put`` whose ``digest`` is malformed or does not describe ``data``."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise InvalidInput(f"digest of blob {key!r} must be 64 lowercase hex characters (sha256)")
    actual = sha256_hex(data)
    if actual != digest:
        raise InvalidInput(f"blob {key!r} does not match its digest: given {digest}, data has {actual}")


class BlobStore(Protocol):
    """Immutable blobs by key. Every method validates the key first (InvalidInput).

    A key once written holds the same bytes until it is deleted: writing it again with the same digest is a
    no-op, with another digest a Conflict. Reads verify the digest and raise BlobCorrupt on a mismatch.
    Failures of the storage itself are BlobUnavailable (retryable).
    """

    async def put(self, key: str, data: bytes, *, digest: str) -> None:
        """Store ``data`` under ``key``; ``digest`` is its sha256 (hex), checked before anything is written.

        Raises:
            InvalidInput: a bad key, or a digest that does not match ``data``.
            Conflict: ``key`` already holds other content.
        """
        ...

    async def get(self, key: str) -> bytes:
        """The bytes under ``key``, verified against their digest.

        Raises:
            NotFound: nothing is stored under ``key``.
            BlobCorrupt: the stored bytes no longer match their digest.
        """
        ...

    def stream(self, key: str, *, chunk_size: int = DEFAULT_CHUNK) -> AsyncIterator[bytes]:
        """The bytes under ``key`` in chunks of at most ``chunk_size``, for responses too big to hold in memory.

        The digest is verified as the chunks pass: BlobCorrupt is raised after the last chunk (a consumer that
        forwards chunks must abort its response on it). NotFound is raised before the first chunk.
        """
        ...

    async def exists(self, key: str) -> bool:
        """Whether something is stored under ``key``."""
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""
        ...

    async def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...

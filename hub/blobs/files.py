"""Blobs as files under one directory (``<data_dir>/blobs`` by default): the embedded default.

Each blob is one file ``<root>/<key>@blob`` holding a header line with its sha256 and then its bytes, so that
the digest is written and committed with the data in one step. ``@`` is not allowed in keys, so a key ``a``
(file ``a@blob``) and a key ``a/b`` (directory ``a``) never clash. A write goes to a hidden temporary file
(mode 0600), is fsynced and then hard-linked into place: the link fails if the name exists, which makes
"create if absent" atomic even between processes, and a reader never sees half a blob.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from hub.blobs.base import DEFAULT_CHUNK, BlobCorrupt, BlobUnavailable, check_digest, validate_key
from hub.errors import Conflict, NotFound

SUFFIX = "@blob"
_MAGIC = b"fieldhub-blob sha256:"
_HEADER_LENGTH = len(_MAGIC) + 64 + 1

_log = logging.getLogger(__name__)


class FileBlobStore:
    """A :class:`~hub.blobs.base.BlobStore` under ``root``; blocking file I/O runs in worker threads."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        """The file that holds ``key`` (validated)."""
        return self.root / (validate_key(key) + SUFFIX)

    async def put(self, key: str, data: bytes, *, digest: str) -> None:
        path = self.path(key)
        await asyncio.to_thread(self._put, key, path, data, digest)

    async def get(self, key: str) -> bytes:
        path = self.path(key)
        return await asyncio.to_thread(self._get, key, path)

    async def stream(self, key: str, *, chunk_size: int = DEFAULT_CHUNK) -> AsyncIterator[bytes]:
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        path = self.path(key)
        fh, expected = await asyncio.to_thread(self._open, key, path)
        try:
            hasher = hashlib.sha256()
            while chunk := await asyncio.to_thread(_read, fh, chunk_size, key):
                hasher.update(chunk)
                yield chunk
            _verify(key, expected, hasher.hexdigest())
        finally:
            fh.close()

    async def exists(self, key: str) -> bool:
        path = self.path(key)
        return await asyncio.to_thread(path.is_file)

    async def delete(self, key: str) -> None:
        path = self.path(key)
        await asyncio.to_thread(self._delete, key, path)

    async def close(self) -> None:
        """Nothing to release: every operation opens and closes its own files."""

    def _put(self, key: str, path: Path, data: bytes, digest: str) -> None:
        check_digest(key, data, digest)
        if path.is_file():  # the common repeat: no need to write a temporary file first
            self._same_or_conflict(key, path, digest)
            return
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # mode 0600
        except OSError as exc:
            raise BlobUnavailable(f"cannot write blob {key!r} under {self.root}: {exc.strerror}") from exc
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(_MAGIC + digest.encode() + b"\n")
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:  # another writer got there first
                self._same_or_conflict(key, path, digest)
                return
            _fsync_dir(path.parent)
        except OSError as exc:
            raise BlobUnavailable(f"cannot write blob {key!r} under {self.root}: {exc.strerror}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                Path(tmp).unlink()
        _log.debug("stored blob %s (%d bytes)", key, len(data))

    def _same_or_conflict(self, key: str, path: Path, digest: str) -> None:
        fh, stored = self._open(key, path)
        fh.close()
        if stored != digest:
            raise Conflict(f"blob {key!r} already holds other content (sha256 {stored})")

    def _open(self, key: str, path: Path) -> tuple[BinaryIO, str]:
        """The file positioned after its header, and the digest the header names."""
        try:
            fh = path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound("blob", key) from None
        except OSError as exc:
            raise BlobUnavailable(f"cannot read blob {key!r}: {exc.strerror}") from exc
        header = _read(fh, _HEADER_LENGTH, key)
        digest = header[len(_MAGIC) : -1].decode("ascii", "replace")
        if len(header) != _HEADER_LENGTH or not header.startswith(_MAGIC) or not header.endswith(b"\n"):
            fh.close()
            raise BlobCorrupt(key, "its header is damaged")
        return fh, digest

    def _get(self, key: str, path: Path) -> bytes:
        fh, expected = self._open(key, path)
        with fh:
            try:
                data = fh.read()
            except OSError as exc:
                raise BlobUnavailable(f"cannot read blob {key!r}: {exc.strerror}") from exc
        _verify(key, expected, hashlib.sha256(data).hexdigest())
        return data

    def _delete(self, key: str, path: Path) -> None:
        try:
            path.unlink()
            _fsync_dir(path.parent)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):  # no blob by that name
            return
        except OSError as exc:
            raise BlobUnavailable(f"cannot delete blob {key!r}: {exc.strerror}") from exc
        # Empty directories are left in place: removing one could race a writer about to create a file in it.


def _read(fh: BinaryIO, size: int, key: str) -> bytes:
    try:
        return fh.read(size)
    except OSError as exc:
        raise BlobUnavailable(f"cannot read blob {key!r}: {exc.strerror}") from exc


def _verify(key: str, expected: str, actual: str) -> None:
    if actual != expected:
        raise BlobCorrupt(key, f"stored with sha256 {expected}, reads as {actual}")


def _fsync_dir(directory: Path) -> None:
    """Make a new or removed name durable, not only the file's content."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

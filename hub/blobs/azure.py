"""Blobs in one Azure Blob Storage container, through azure-storage-blob's asyncio client (tested on Azurite).

Immutability is the service's: an upload carries ``If-None-Match: *``, so it fails when the name exists, even
against another hub writing at the same moment. The sha256 given to ``put`` is kept in the blob's metadata
(and the MD5 in its Content-MD5 property); reads verify the sha256.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobBlock, ContentSettings
from azure.storage.blob.aio import BlobClient, BlobServiceClient

from hub.blobs.base import DEFAULT_CHUNK, BlobCorrupt, BlobUnavailable, check_digest, validate_key
from hub.errors import Conflict, NotFound

DIGEST_METADATA = "sha256"
# Downloads come in pieces of this size at most, so that a stream holds one piece at a time.
_PIECE = 4 * 1024 * 1024
# Larger blobs go up in blocks of this size: aiohttp warns of (and copies at once) any bigger request body.
_BLOCK = 1024 * 1024
_RETRIES = 3  # the SDK's default of 10, with backoff, would hide an unreachable account for minutes

_log = logging.getLogger(__name__)


class AzureBlobStore:
    """A :class:`~hub.blobs.base.BlobStore` in ``container``, created on the first write if it is missing."""

    def __init__(self, connection_string: str, container: str) -> None:
        self.container = container
        self._service = BlobServiceClient.from_connection_string(
            connection_string, max_single_get_size=_PIECE, max_chunk_get_size=_PIECE, retry_total=_RETRIES
        )
        self._client = self._service.get_container_client(container)
        self._created = False
        self._creating = asyncio.Lock()

    async def put(self, key: str, data: bytes, *, digest: str) -> None:
        validate_key(key)
        check_digest(key, data, digest)
        await self._ensure_container()
        blob = self._client.get_blob_client(key)
        settings = ContentSettings(
            content_type="application/octet-stream",
            content_md5=bytearray(hashlib.md5(data, usedforsecurity=False).digest()),
        )
        try:
            await _upload(blob, data, {DIGEST_METADATA: digest}, settings)
        except (ResourceExistsError, ResourceModifiedError):
            stored = await self._stored_digest(key)
            if stored is None:  # deleted again between the two requests: a retry would simply write it
                raise Conflict(f"blob {key!r} changed while it was written; try again") from None
            if stored != digest:
                raise Conflict(f"blob {key!r} already holds other content (sha256 {stored})") from None
            return
        except AzureError as exc:
            raise _unavailable("write", key, exc) from exc
        _log.debug("stored blob %s (%d bytes) in container %s", key, len(data), self.container)

    async def get(self, key: str) -> bytes:
        return b"".join([chunk async for chunk in self.stream(key, chunk_size=_PIECE)])

    async def stream(self, key: str, *, chunk_size: int = DEFAULT_CHUNK) -> AsyncIterator[bytes]:
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        validate_key(key)
        try:
            downloader = await self._client.get_blob_client(key).download_blob()
        except ResourceNotFoundError:
            raise NotFound("blob", key) from None
        except AzureError as exc:
            raise _unavailable("read", key, exc) from exc
        expected = (downloader.properties.metadata or {}).get(DIGEST_METADATA)
        if expected is None:
            raise BlobCorrupt(key, f"it has no {DIGEST_METADATA} metadata (not written by Fieldhub)")
        hasher = hashlib.sha256()
        pieces = downloader.chunks()
        while True:
            try:
                piece = await anext(pieces)
            except StopAsyncIteration:
                break
            except AzureError as exc:
                raise _unavailable("read", key, exc) from exc
            hasher.update(piece)
            for start in range(0, len(piece), chunk_size):
                yield piece[start : start + chunk_size]
        if hasher.hexdigest() != expected:
            raise BlobCorrupt(key, f"stored with sha256 {expected}, reads as {hasher.hexdigest()}")

    async def exists(self, key: str) -> bool:
        validate_key(key)
        try:
            return bool(await self._client.get_blob_client(key).exists())
        except AzureError as exc:
            raise _unavailable("look up", key, exc) from exc

    async def delete(self, key: str) -> None:
        validate_key(key)
        try:
            await self._client.get_blob_client(key).delete_blob()
        except ResourceNotFoundError:
            return
        except AzureError as exc:
            raise _unavailable("delete", key, exc) from exc

    async def close(self) -> None:
        await self._client.close()
        await self._service.close()

    async def _ensure_container(self) -> None:
        if self._created:
            return
        async with self._creating:
            if self._created:
                return
            try:
                await self._client.create_container()
                _log.info("created blob container %s", self.container)
            except ResourceExistsError:
                pass
            except AzureError as exc:
                raise BlobUnavailable(f"cannot create blob container {self.container!r}: {_reason(exc)}") from exc
            self._created = True

    async def _stored_digest(self, key: str) -> str | None:
        try:
            properties = await self._client.get_blob_client(key).get_blob_properties()
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise _unavailable("read", key, exc) from exc
        metadata: dict[str, Any] = properties.metadata or {}
        return str(metadata.get(DIGEST_METADATA, "none"))


async def _upload(blob: BlobClient, data: bytes, metadata: dict[str, str], settings: ContentSettings) -> None:
    """Write a new blob; ResourceExistsError or ResourceModifiedError if the name is taken."""
    if len(data) <= _BLOCK:
        await blob.upload_blob(
            data,
            overwrite=False,
            if_none_match="*",
            metadata=metadata,
            content_settings=settings,
            validate_content=True,
        )
        return
    # The SDK's own block upload names blocks by their index, so two writers racing on one name could commit
    # each other's blocks; random block ids keep each writer's blocks its own until one commit wins.
    blocks = []
    view = memoryview(data)
    for start in range(0, len(data), _BLOCK):
        block_id = uuid.uuid4().hex
        await blob.stage_block(block_id, bytes(view[start : start + _BLOCK]), validate_content=True)
        blocks.append(BlobBlock(block_id=block_id))
    await blob.commit_block_list(blocks, if_none_match="*", metadata=metadata, content_settings=settings)


def _reason(exc: AzureError) -> str:
    """The service's error code or the exception's class: its message may quote request URLs."""
    code = getattr(exc, "error_code", None)
    return str(code) if code else type(exc).__name__


def _unavailable(action: str, key: str, exc: AzureError) -> BlobUnavailable:
    return BlobUnavailable(f"cannot {action} blob {key!r} in Azure Blob Storage: {_reason(exc)}")

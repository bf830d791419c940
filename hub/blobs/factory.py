"""Blob stores by URL scheme (``blob`` / ``FIELDHUB_BLOB``); a backend registers here by name.

A registered builder checks the URL's shape at once (so settings are refused before anything starts) and
returns an opener that takes what the URL must not carry: the data directory and the account's secret.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from hub.backends import BackendRegistry
from hub.blobs.base import BlobStore
from hub.errors import ConfigError

DEFAULT_BLOB = "file://"
# Azure's rule for container names: 3-63 of [a-z0-9-], starting and ending with a letter or digit, no "--".
_CONTAINER = re.compile(r"(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


@dataclass(frozen=True, slots=True)
class BlobContext:
    """What a blob store may need beyond its URL."""

    data_dir: Path
    azure_connection_string: str | None = None


BlobOpener = Callable[[BlobContext], BlobStore]
BLOBS: BackendRegistry[BlobOpener] = BackendRegistry("blob")


@BLOBS.register("file", "files under a directory; the default is <data_dir>/blobs", "file:///path/to/blobs")
def _files(url: str) -> BlobOpener:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
        raise ConfigError(f"blob URL {url!r}: name a local directory as file:///path/to/blobs")
    path = Path(unquote(parts.path)) if parts.path else None

    def open_files(context: BlobContext) -> BlobStore:
        from hub.blobs.files import FileBlobStore  # noqa: PLC0415 - import the backend only when chosen

        return FileBlobStore(path or context.data_dir / "blobs")

    return open_files


@BLOBS.register("azure", "an Azure Blob Storage container (azure.storage_connection_string)", "azure://container")
def _azure(url: str) -> BlobOpener:
    parts = urlsplit(url)
    container = parts.netloc
    if parts.path not in ("", "/") or parts.query or parts.fragment or not _CONTAINER.fullmatch(container):
        raise ConfigError(
            f"blob URL {url!r}: use azure://CONTAINER, the container named by 3-63 of a-z, 0-9 and '-' "
            "(the account comes from azure.storage_connection_string)"
        )

    def open_azure(context: BlobContext) -> BlobStore:
        if not context.azure_connection_string:
            raise ConfigError(f"blob {url} needs azure.storage_connection_string")
        from hub.blobs.azure import AzureBlobStore  # noqa: PLC0415 - azure-storage-blob loads only when chosen

        return AzureBlobStore(context.azure_connection_string, container)

    return open_azure


def check_blob_url(url: str) -> str:
    """``url`` if a registered blob store takes it; ConfigError naming the problem otherwise."""
    BLOBS.build(url)
    return url


def open_blob_store(url: str | None, context: BlobContext) -> BlobStore:
    """Build the blob store named by ``url`` (``None``: files under ``<data_dir>/blobs``)."""
    return BLOBS.build(url or DEFAULT_BLOB)(context)

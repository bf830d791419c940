"""Immutable blobs (app packages) behind one interface: a directory by default, Azure Blob Storage in production."""

from hub.blobs.base import BlobCorrupt, BlobStore, BlobUnavailable, sha256_hex, validate_key

__all__ = ["BlobCorrupt", "BlobStore", "BlobUnavailable", "sha256_hex", "validate_key"]

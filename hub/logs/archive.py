"""Lines leaving the log store go to the blob store first: gzip-compressed JSON lines, a blob per tenant and hour.

Keys are ``logs/{tenant}/{yyyy}/{mm}/{dd}/{hh}-{first id}-{last id}.jsonl.gz`` (UTC hour of the lines' time).
Blob keys are lowercase: a tenant id that is not (or is ``platform``, or starts with ``x-``) is written as
``x-`` and its UTF-8 bytes in hex, so no two tenants share a folder; the hub's own lines are under ``platform``.
The same lines always make the same bytes (no time in the gzip header), so archiving a batch again after a crash
between the upload and the delete writes nothing new.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from hub.blobs.base import BlobStore, sha256_hex
from hub.store.logs import HUB_TENANT, StoredLine

PREFIX = "logs"
PLATFORM = "platform"
_PLAIN = re.compile(r"[a-z0-9][a-z0-9._-]*")
_HOUR_MS = 3_600_000


def tenant_folder(tenant: str) -> str:
    """The key segment of a tenant's archives (see the module docstring)."""
    if tenant == HUB_TENANT:
        return PLATFORM
    if _PLAIN.fullmatch(tenant) and tenant != PLATFORM and not tenant.startswith("x-"):
        return tenant
    return "x-" + tenant.encode().hex()


def archive_key(tenant: str, lines: Sequence[StoredLine]) -> str:
    """Where a batch of one tenant's lines of one hour goes."""
    hour = datetime.fromtimestamp(lines[0].ts // _HOUR_MS * 3600, UTC)
    first, last = min(line.id for line in lines), max(line.id for line in lines)
    return f"{PREFIX}/{tenant_folder(tenant)}/{hour:%Y/%m/%d/%H}-{first}-{last}.jsonl.gz"


def record(line: StoredLine) -> dict[str, Any]:
    """A line as archived: its fields, the level by name, without the app fields it has not."""
    doc: dict[str, Any] = {
        "id": line.id,
        "tenant": line.tenant,
        "node": line.node,
        "ts": line.ts,
        "level": line.level_name,
        "logger": line.logger,
        "message": line.message,
    }
    for name in ("app", "version", "deployment", "instance", "service", "stream"):
        value = getattr(line, name)
        if value is not None:
            doc[name] = value
    return doc


def encode(lines: Sequence[StoredLine]) -> bytes:
    """The gzip-compressed JSON lines of ``lines``, the same bytes for the same lines."""
    body = b"".join(orjson.dumps(record(line)) + b"\n" for line in lines)
    return gzip.compress(body, compresslevel=6, mtime=0)


def decode(data: bytes) -> list[dict[str, Any]]:
    """The records of an archive blob."""
    return [orjson.loads(row) for row in gzip.decompress(data).splitlines() if row]


def batches(lines: Sequence[StoredLine]) -> list[tuple[str, list[StoredLine]]]:
    """``lines`` grouped by tenant and UTC hour, each group in id order, with its key."""
    groups: dict[tuple[str, int], list[StoredLine]] = {}
    for line in lines:
        groups.setdefault((line.tenant, line.ts // _HOUR_MS), []).append(line)
    out = []
    for (tenant, _), group in sorted(groups.items()):
        group.sort(key=lambda line: line.id)
        out.append((archive_key(tenant, group), group))
    return out


async def archive(blobs: BlobStore, lines: Sequence[StoredLine]) -> list[str]:
    """Write ``lines`` to ``blobs`` (a blob per tenant and hour); the keys written."""
    keys = []
    for key, group in batches(lines):
        data = encode(group)
        await blobs.put(key, data, digest=sha256_hex(data))
        keys.append(key)
    return keys


async def read_archive(blobs: BlobStore, key: str) -> list[dict[str, Any]]:
    """The records of the archive blob at ``key``."""
    return decode(await blobs.get(key))

"""The blob store contract, run against every backend: files under a directory, and Azure Blob Storage on Azurite.

Nothing here may know which backend runs, except how a test reaches behind the store to damage a blob.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from azure.storage.blob.aio import ContainerClient

from hub.blobs import BlobCorrupt, BlobStore, sha256_hex
from hub.blobs.factory import BlobContext, open_blob_store
from hub.blobs.files import FileBlobStore
from hub.errors import Conflict, InvalidInput, NotFound
from tests.helpers.azurite import Azurite

# The first Azure test may install Azurite from npm (cached afterwards).
pytestmark = pytest.mark.timeout(180)

BAD_KEYS = [
    "",
    "/etc/passwd",
    "../escape",
    "a/../../b",
    "a/./b",
    "a//b",
    "a/",
    ".hidden",
    "a/.tmp-x",
    "Upper",
    "with space",
    "back\\slash",
    "at@blob",
    "caf\u00e9",
    "nul\x00",
    "x" * 513,
]


@dataclass
class Subject:
    """A store under test, and a way to change a stored blob's bytes behind its back."""

    store: BlobStore
    corrupt: Callable[[str], Awaitable[None]]


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with Azurite(tmp_path_factory.mktemp("azurite")) as server:
        yield server


@pytest.fixture(params=["file", "azure"])
async def subject(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    if request.param == "file":
        store = open_blob_store(None, BlobContext(tmp_path / "data"))
        assert isinstance(store, FileBlobStore)

        async def corrupt_file(key: str) -> None:
            path = store.path(key)
            data = bytearray(path.read_bytes())
            data[-1] ^= 0xFF
            path.write_bytes(bytes(data))

        yield Subject(store, corrupt_file)
        await store.close()
        return
    server: Azurite = request.getfixturevalue("azurite")
    container = f"test-{uuid.uuid4().hex[:20]}"  # a container per test: nothing leaks between tests
    context = BlobContext(tmp_path / "data", server.connection_string)
    store = open_blob_store(f"azure://{container}", context)

    async def corrupt_azure(key: str) -> None:
        async with ContainerClient.from_connection_string(server.connection_string, container) as raw:
            blob = raw.get_blob_client(key)
            metadata = (await blob.get_blob_properties()).metadata
            await blob.upload_blob(b"tampered", overwrite=True, metadata=metadata)

    yield Subject(store, corrupt_azure)
    await store.close()


def _blob(text: str) -> tuple[bytes, str]:
    data = text.encode()
    return data, sha256_hex(data)


async def _put(store: BlobStore, key: str, text: str) -> bytes:
    data, digest = _blob(text)
    await store.put(key, data, digest=digest)
    return data


async def _read_stream(store: BlobStore, key: str, chunk_size: int) -> list[bytes]:
    return [chunk async for chunk in store.stream(key, chunk_size=chunk_size)]


async def test_a_blob_round_trips(subject: Subject) -> None:
    store = subject.store
    data, digest = _blob("package bytes")
    assert not await store.exists("apps/t1/climate/1.0.0.zip")
    await store.put("apps/t1/climate/1.0.0.zip", data, digest=digest)
    assert await store.exists("apps/t1/climate/1.0.0.zip")
    assert await store.get("apps/t1/climate/1.0.0.zip") == data
    chunks = await _read_stream(store, "apps/t1/climate/1.0.0.zip", 4)
    assert b"".join(chunks) == data
    assert all(0 < len(chunk) <= 4 for chunk in chunks)


async def test_a_key_and_keys_below_it_are_separate_blobs(subject: Subject) -> None:
    store = subject.store
    outer = await _put(store, "apps/a", "outer")
    inner = await _put(store, "apps/a/b", "inner")
    assert await store.get("apps/a") == outer
    assert await store.get("apps/a/b") == inner


async def test_the_same_content_again_is_a_no_op_and_other_content_conflicts(subject: Subject) -> None:
    store = subject.store
    data, digest = _blob("v1")
    other, other_digest = _blob("v1 changed")
    await store.put("pkg/v1", data, digest=digest)
    await store.put("pkg/v1", data, digest=digest)
    with pytest.raises(Conflict, match="already holds other content"):
        await store.put("pkg/v1", other, digest=other_digest)
    assert await store.get("pkg/v1") == data


async def test_concurrent_writes_of_one_key_keep_exactly_one_content(subject: Subject) -> None:
    store = subject.store
    contents = [_blob(f"writer {n}") for n in range(4)]
    results = await asyncio.gather(
        *(store.put("race/key", data, digest=digest) for data, digest in contents), return_exceptions=True
    )
    winners = [data for (data, _), result in zip(contents, results, strict=True) if result is None]
    assert len(winners) == 1, results
    assert all(isinstance(result, Conflict) for result in results if result is not None), results
    assert await store.get("race/key") == winners[0]


async def test_a_digest_that_does_not_match_the_data_is_refused_and_nothing_is_stored(subject: Subject) -> None:
    store = subject.store
    data, _ = _blob("real")
    _, wrong = _blob("something else")
    with pytest.raises(InvalidInput, match="does not match its digest"):
        await store.put("pkg/x", data, digest=wrong)
    with pytest.raises(InvalidInput, match="64 lowercase hex"):
        await store.put("pkg/x", data, digest="sha256:" + wrong)
    assert not await store.exists("pkg/x")


async def test_a_missing_key_is_not_found(subject: Subject) -> None:
    store = subject.store
    assert not await store.exists("nothing/here")
    with pytest.raises(NotFound, match="blob 'nothing/here' not found"):
        await store.get("nothing/here")
    with pytest.raises(NotFound):
        await _read_stream(store, "nothing/here", 1024)


async def test_delete_removes_a_blob_and_is_idempotent(subject: Subject) -> None:
    store = subject.store
    data, digest = _blob("to delete")
    await store.put("pkg/gone", data, digest=digest)
    await store.delete("pkg/gone")
    await store.delete("pkg/gone")
    await store.delete("never/stored")
    assert not await store.exists("pkg/gone")
    with pytest.raises(NotFound):
        await store.get("pkg/gone")
    other, other_digest = _blob("a new life")
    await store.put("pkg/gone", other, digest=other_digest)  # a deleted key may be written anew
    assert await store.get("pkg/gone") == other


@pytest.mark.parametrize("key", BAD_KEYS, ids=lambda key: repr(key[:20]))
async def test_bad_keys_are_refused_by_every_operation(subject: Subject, key: str) -> None:
    store = subject.store
    data, digest = _blob("x")
    with pytest.raises(InvalidInput, match="blob key"):
        await store.put(key, data, digest=digest)
    with pytest.raises(InvalidInput, match="blob key"):
        await store.get(key)
    with pytest.raises(InvalidInput, match="blob key"):
        await _read_stream(store, key, 1024)
    with pytest.raises(InvalidInput, match="blob key"):
        await store.exists(key)
    with pytest.raises(InvalidInput, match="blob key"):
        await store.delete(key)


async def test_a_large_blob_round_trips_whole_and_in_bounded_chunks(subject: Subject) -> None:
    store = subject.store
    data = os.urandom(6 * 1024 * 1024 + 123)
    await store.put("big/blob.bin", data, digest=sha256_hex(data))
    assert await store.get("big/blob.bin") == data
    chunks = await _read_stream(store, "big/blob.bin", 1024 * 1024)
    assert b"".join(chunks) == data
    assert max(len(chunk) for chunk in chunks) <= 1024 * 1024
    await store.put("big/blob.bin", data, digest=sha256_hex(data))
    other = os.urandom(len(data))
    with pytest.raises(Conflict):
        await store.put("big/blob.bin", other, digest=sha256_hex(other))
    assert await store.get("big/blob.bin") == data


async def test_a_corrupted_blob_is_reported_not_served(subject: Subject) -> None:
    store = subject.store
    data, digest = _blob("trusted content")
    await store.put("pkg/corrupt", data, digest=digest)
    await subject.corrupt("pkg/corrupt")
    with pytest.raises(BlobCorrupt, match=f"blob 'pkg/corrupt' is corrupt: stored with sha256 {digest}"):
        await store.get("pkg/corrupt")
    with pytest.raises(BlobCorrupt):
        await _read_stream(store, "pkg/corrupt", 4)

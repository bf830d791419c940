"""What the file blob store promises beyond the contract: its layout, file modes, atomic writes, key safety."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.blobs import BlobCorrupt, sha256_hex, validate_key
from hub.blobs.factory import BlobContext, open_blob_store
from hub.blobs.files import FileBlobStore
from hub.errors import InvalidInput

KEY_CHARS = st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789._-/")


def _store(tmp_path: Path, url: str | None = None) -> FileBlobStore:
    store = open_blob_store(url, BlobContext(tmp_path / "data"))
    assert isinstance(store, FileBlobStore)
    return store


def test_the_default_store_is_a_directory_under_data_dir_and_a_file_url_names_another(tmp_path: Path) -> None:
    assert _store(tmp_path).root == tmp_path / "data" / "blobs"
    assert _store(tmp_path, "file://").root == tmp_path / "data" / "blobs"
    assert _store(tmp_path, f"file://{tmp_path}/elsewhere").root == tmp_path / "elsewhere"


async def test_blobs_are_private_files_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    store = _store(tmp_path)
    data = b"secret package"
    await store.put("apps/t/x/1.zip", data, digest=sha256_hex(data))
    path = store.path("apps/t/x/1.zip")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    files = sorted(p.relative_to(store.root).as_posix() for p in store.root.rglob("*") if p.is_file())
    assert files == ["apps/t/x/1.zip@blob"]


async def test_a_damaged_header_is_reported_as_corruption(tmp_path: Path) -> None:
    store = _store(tmp_path)
    data = b"bytes"
    await store.put("k", data, digest=sha256_hex(data))
    store.path("k").write_bytes(b"not a blob")
    with pytest.raises(BlobCorrupt, match="blob 'k' is corrupt: its header is damaged"):
        await store.get("k")


async def test_a_key_that_clashes_with_an_unrelated_file_is_not_found_rather_than_read(tmp_path: Path) -> None:
    store = _store(tmp_path)
    (store.root / "dir@blob").mkdir(parents=True)
    assert not await store.exists("dir")
    await store.delete("dir")  # a directory is never removed as if it were a blob
    assert (store.root / "dir@blob").is_dir()


@given(st.text(KEY_CHARS, min_size=1, max_size=60))
def test_every_accepted_key_stays_inside_the_store(key: str) -> None:
    root = Path("/srv/blobs")
    try:
        validate_key(key)
    except InvalidInput:
        return
    path = FileBlobStore(root).path(key)
    assert path.resolve().is_relative_to(root.resolve())
    assert ".." not in path.parts and "." not in key.split("/")


@given(st.text(min_size=1, max_size=40))
def test_any_text_is_either_a_safe_key_or_refused(key: str) -> None:
    try:
        validate_key(key)
    except InvalidInput:
        return
    assert all(segment and segment[0].isalnum() for segment in key.split("/"))
    assert set(key) <= set("abcdefghijklmnopqrstuvwxyz0123456789._-/")

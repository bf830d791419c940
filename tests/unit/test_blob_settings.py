"""The blob store's settings: ``blob`` and the ``[azure]`` section, from the file, the command line and the env."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.settings import load_replica_settings, load_settings
from hub.blobs.factory import open_blob_store
from hub.blobs.files import FileBlobStore
from hub.errors import ConfigError

CONNECTION = "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=c2VjcmV0LWtleQ==;BlobEndpoint=http://h/a;"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "FIELDHUB_BLOB",
        "FIELDHUB_AZURE_STORAGE_CONNECTION_STRING",
        "FIELDHUB_AZURE__STORAGE_CONNECTION_STRING",
    ):
        monkeypatch.delenv(name, raising=False)


def test_by_default_blobs_are_files_under_data_dir(tmp_path: Path) -> None:
    settings = load_settings(demo=True, data_dir=tmp_path)
    assert settings.blob is None
    assert settings.azure.storage_connection_string is None
    store = open_blob_store(settings.blob, settings.blob_context)
    assert isinstance(store, FileBlobStore)
    assert store.root == tmp_path / "blobs"


@pytest.mark.parametrize(
    "env", ["FIELDHUB_AZURE_STORAGE_CONNECTION_STRING", "FIELDHUB_AZURE__STORAGE_CONNECTION_STRING"]
)
def test_azure_takes_its_connection_string_from_either_env_name(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    monkeypatch.setenv("FIELDHUB_BLOB", "azure://app-packages")
    monkeypatch.setenv(env, CONNECTION)
    settings = load_settings(demo=True)
    assert settings.blob == "azure://app-packages"
    assert settings.blob_context.azure_connection_string == CONNECTION
    assert CONNECTION not in repr(settings)


def test_the_nested_env_name_wins_over_the_flat_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDHUB_AZURE_STORAGE_CONNECTION_STRING", "flat")
    monkeypatch.setenv("FIELDHUB_AZURE__STORAGE_CONNECTION_STRING", "nested")
    assert load_settings(demo=True).blob_context.azure_connection_string == "nested"


def test_the_config_file_takes_blob_and_an_azure_section(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(f'blob = "azure://pkgs"\n[azure]\nstorage_connection_string = "{CONNECTION}"\n')
    settings = load_settings(config, demo=True)
    assert settings.blob == "azure://pkgs"
    assert settings.blob_context.azure_connection_string == CONNECTION


def test_azure_without_a_connection_string_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"blob azure://pkgs needs azure.storage_connection_string") as caught:
        load_settings(demo=True, blob="azure://pkgs")
    assert "FIELDHUB_AZURE_STORAGE_CONNECTION_STRING" in caught.value.message


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("s3://bucket", r"unknown blob 's3://bucket': use one of file:///path/to/blobs, azure://container"),
        ("azure://Upper_Case", r"use azure://CONTAINER"),
        ("azure://pkgs/sub", r"use azure://CONTAINER"),
        ("azure://a--b", r"use azure://CONTAINER"),
        ("file://somehost/blobs", r"name a local directory as file:///path/to/blobs"),
    ],
)
def test_a_blob_url_of_the_wrong_shape_is_refused_naming_the_known_forms(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_settings(demo=True, blob=url, azure={"storage_connection_string": CONNECTION})


def test_an_ingest_replica_refuses_the_blob_settings_by_name() -> None:
    with pytest.raises(ConfigError, match="blob: Extra inputs are not permitted"):
        load_replica_settings(blob="file://")

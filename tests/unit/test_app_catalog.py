"""The app catalog keeps its blobs and records consistent; the template app passes the checks and serves."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hub.apps.catalog import AppCatalog, package_key
from hub.apps.template import write_template, zip_directory
from hub.blobs.files import FileBlobStore
from hub.errors import Conflict, StoreUnavailable
from hub.store.apps import AppVersionRecord

pytestmark = pytest.mark.timeout(30)


class FailingStore:
    """An apps' store whose writes fail, as a database that went away does; holds ``existing`` if given."""

    def __init__(self, error: Exception, existing: AppVersionRecord | None = None) -> None:
        self.error = error
        self.existing = existing
        self.lookups = 0

    async def get_version(self, tenant: str, name: str, version: str) -> AppVersionRecord | None:
        self.lookups += 1
        return None if self.lookups == 1 else self.existing  # absent before the write, as the race found it

    async def add_version(self, version: AppVersionRecord) -> None:
        raise self.error


def test_package_keys_are_safe_for_every_tenant_id() -> None:
    digest = "a" * 64
    assert package_key("default", "app", digest) == f"apps/default/app/{digest}.zip"
    assert package_key("Acme_1", "app", digest) == f"apps/x.{b'Acme_1'.hex()}/app/{digest}.zip"
    assert package_key("a.b", "app", digest) != package_key("x.612e62", "app", digest)


def _template(tmp_path: Path, name: str) -> tuple[bytes, FileBlobStore]:
    """The template app zipped, and an empty blob store."""
    write_template(name, tmp_path / "app")
    return zip_directory(tmp_path / "app"), FileBlobStore(tmp_path / "blobs")


def _blob_files(blobs: FileBlobStore) -> list[Path]:
    return [p for p in blobs.root.rglob("*") if p.is_file()]


async def test_a_failed_record_write_removes_the_blob(tmp_path: Path) -> None:
    data, blobs = _template(tmp_path, "rollback")
    catalog = AppCatalog(FailingStore(StoreUnavailable("database is gone")), blobs)  # type: ignore[arg-type]
    with pytest.raises(StoreUnavailable):
        await catalog.push("default", data, "admin")
    assert _blob_files(blobs) == []


async def test_a_lost_race_with_the_same_bytes_keeps_the_winners_blob(tmp_path: Path) -> None:
    data, blobs = _template(tmp_path, "race")
    first = AppCatalog(FailingStore(Conflict("exists")), blobs)  # type: ignore[arg-type]
    with pytest.raises(Conflict):
        await first.push("default", data, "admin")
    assert _blob_files(blobs) == []  # no winner: removed
    digest = hashlib.sha256(data).hexdigest()
    winner = AppVersionRecord("default", "race", "0.1.0", digest, len(data), "{}", 1, "other")
    second = AppCatalog(FailingStore(Conflict("exists"), existing=winner), blobs)  # type: ignore[arg-type]
    with pytest.raises(Conflict):
        await second.push("default", data, "admin")
    assert await blobs.exists(package_key("default", "race", digest))


def test_the_template_app_serves_healthz_on_port(tmp_path: Path) -> None:
    write_template("served", tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "main.py"], cwd=tmp_path, env={**os.environ, "PORT": str(port)}, stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        assert f"listening on port {port}" in process.stdout.readline().decode()  # an event, not a sleep
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/healthz")
        answer = connection.getresponse()
        assert (answer.status, answer.read()) == (200, b'{"status": "ok"}')
        connection.close()
    finally:
        process.terminate()
        assert process.wait(timeout=5) == 0
        process.stdout.close()

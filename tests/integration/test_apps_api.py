"""Pushing app packages through the API of a real hub: checked, stored by digest, downloaded, isolated, deleted."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.runtime import HubRuntime
from hub.apps.template import write_template, zip_directory
from tests.helpers.azurite import Azurite
from tests.helpers.hub import Api, running_hub

pytestmark = pytest.mark.timeout(60)

APPS = "/api/v1/apps"


def template_zip(tmp_path: Path, name: str) -> bytes:
    """The template app ``fieldhub app init`` writes, zipped as ``fieldhub app push`` does."""
    directory = tmp_path / name
    write_template(name, directory)
    return zip_directory(directory)


async def push(api: Api, data: bytes, **params: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = await api.http.post(APPS, files={"package": ("app.zip", data, "application/zip")}, params=params)
    return response.status_code, response.json()


def stored_blobs(hub: HubRuntime) -> list[Path]:
    root = hub.settings.data_dir / "blobs"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_a_pushed_template_round_trips_and_is_deleted(hub: HubRuntime, api: Api, tmp_path: Path) -> None:
    data = template_zip(tmp_path, "hello")
    status, body = await push(api, data)
    assert status == 201, body
    assert (body["name"], body["version"], body["tenant"]) == ("hello", "0.1.0", "default")
    assert body["digest"] == hashlib.sha256(data).hexdigest()
    assert body["size"] == len(data)
    assert body["manifest"]["runtime"]["command"] == ["python", "main.py"]
    assert body["created_by"] == "admin" and body["created"] > 0

    download = await api.http.get(f"{APPS}/hello/versions/0.1.0/package")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert download.headers["x-fieldhub-digest"] == body["digest"]
    assert download.content == data

    again, refused = await push(api, data)
    assert again == 409 and refused["error"]["code"] == "conflict"

    listed = (await api.http.get(APPS)).json()["items"]
    assert [(a["name"], a["latest"], a["versions"]) for a in listed] == [("hello", "0.1.0", 1)]
    app = (await api.http.get(f"{APPS}/hello")).json()
    assert [v["version"] for v in app["versions"]] == ["0.1.0"]
    assert (await api.http.get(f"{APPS}/hello/versions/0.1.0")).json()["digest"] == body["digest"]
    assert len(stored_blobs(hub)) == 1

    assert (await api.http.delete(f"{APPS}/hello/versions/0.1.0")).status_code == 204
    assert (await api.http.get(f"{APPS}/hello")).status_code == 404
    assert (await api.http.get(f"{APPS}/hello/versions/0.1.0/package")).status_code == 404
    assert stored_blobs(hub) == []
    # Deleted, the version may be pushed again; deleting the app removes every version and package.
    assert (await push(api, data))[0] == 201
    assert (await api.http.delete(f"{APPS}/hello")).status_code == 204
    assert (await api.http.delete(f"{APPS}/hello")).status_code == 404
    assert stored_blobs(hub) == []


async def test_a_bad_package_is_refused_with_every_problem_and_nothing_stored(hub: HubRuntime, api: Api) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fieldhub-app.toml", '[app]\nname = "Bad Name"\nversion = "1"\n')
        archive.writestr("../escape.py", "print('out')\n")
    status, body = await push(api, buffer.getvalue())
    assert status == 422, body
    assert body["error"]["code"] == "invalid_package"
    paths = {d["path"] for d in body["error"]["details"]}
    assert {"../escape.py", "app.name", "app.version"} <= paths, body
    assert stored_blobs(hub) == []
    assert (await api.http.get(APPS)).json()["items"] == []

    not_a_zip, body = await push(api, b"not a zip")
    assert not_a_zip == 422 and body["error"]["details"]
    assert stored_blobs(hub) == []


async def test_a_package_over_the_api_body_limit_is_taken(hub: HubRuntime, api: Api, tmp_path: Path) -> None:
    """The upload route has the package limit, not the API's 1 MiB body limit, which other routes keep."""
    directory = tmp_path / "heavy"
    write_template("heavy", directory)
    (directory / "model.bin").write_bytes(os.urandom(3 * 1024 * 1024))  # incompressible: a 3 MiB zip
    status, body = await push(api, zip_directory(directory))
    assert status == 201 and body["size"] > 3 * 1024 * 1024
    response = await api.http.post("/api/v1/devices", content=b"{" + b" " * (2 * 1024 * 1024) + b"}")
    assert response.status_code == 413


async def test_another_tenant_neither_sees_nor_downloads_an_app(hub: HubRuntime, api: Api, tmp_path: Path) -> None:
    password = "a-long-password-1"
    for tenant in ("apps-a", "apps-b"):
        assert (await api.http.post("/api/v1/tenants", json={"id": tenant, "name": tenant})).status_code == 201
        user = {"username": f"dev-{tenant}", "password": password, "tenant": tenant}
        assert (await api.http.post("/api/v1/users", json=user)).status_code == 201
    user_a = await Api.login(hub.url, "dev-apps-a", password)
    user_b = await Api.login(hub.url, "dev-apps-b", password)
    try:
        data = template_zip(tmp_path, "probe")
        status, body = await push(user_a, data)  # a tenant's user pushes into its own tenant
        assert status == 201 and body["tenant"] == "apps-a"
        assert (await user_b.http.get(APPS)).json()["items"] == []
        for path in ("/probe", "/probe/versions/0.1.0", "/probe/versions/0.1.0/package"):
            assert (await user_b.http.get(APPS + path)).status_code == 404
        assert (await user_b.http.get(APPS, params={"tenant": "apps-a"})).status_code == 404
        assert (await user_b.http.delete(f"{APPS}/probe")).status_code == 404
        # The same name is free in another tenant.
        assert (await push(user_b, data))[0] == 201
        # Platform admins see every tenant, or the one they ask for.
        mine = (await api.http.get(APPS, params={"tenant": "apps-a"})).json()["items"]
        assert [(a["tenant"], a["name"]) for a in mine] == [("apps-a", "probe")]
        got = await api.http.get(f"{APPS}/probe/versions/0.1.0/package", params={"tenant": "apps-b"})
        assert got.content == data
        assert (await user_a.http.delete(f"{APPS}/probe")).status_code == 204
        assert (await user_b.http.get(f"{APPS}/probe")).status_code == 200
    finally:
        await user_a.close()
        await user_b.close()


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with Azurite(tmp_path_factory.mktemp("azurite")) as server:
        yield server


async def test_packages_round_trip_through_azurite(azurite: Azurite, tmp_path: Path) -> None:
    container = f"apps-{uuid.uuid4().hex[:20]}"
    settings = {"blob": f"azure://{container}", "azure": {"storage_connection_string": azurite.connection_string}}
    async with running_hub(tmp_path / "data", **settings) as hub:
        api = await Api.login(hub.url)
        try:
            data = template_zip(tmp_path, "cloudy")
            status, body = await push(api, data)
            assert status == 201 and body["digest"] == hashlib.sha256(data).hexdigest()
            download = await api.http.get(f"{APPS}/cloudy/versions/0.1.0/package")
            assert download.content == data
            assert stored_blobs(hub) == []  # nothing on the local disk
            assert (await api.http.delete(f"{APPS}/cloudy")).status_code == 204
            assert (await hub.services.apps.blobs.exists(f"apps/default/cloudy/{body['digest']}.zip")) is False
        finally:
            await api.close()

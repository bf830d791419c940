"""The hub serves the built portal: hashed assets cached for good, index.html for the app's routes, and none of
the API's paths swallowed by the fallback."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from cloud.api import errors
from cloud.portal import serve
from hub.metrics import Metrics

pytestmark = pytest.mark.timeout(30)
INDEX = '<!doctype html><html><head><script type="module" src="/assets/index-abc.js"></script></head></html>'


def _client(dist: Path, metrics: Metrics | None = None) -> httpx.AsyncClient:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.services = SimpleNamespace(metrics=metrics or Metrics())  # the error handlers count refusals there
    errors.install(app)

    @app.get("/api/v1/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    serve.install(app, dist)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub")


@pytest.fixture
def built(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "favicon.svg").write_text("<svg/>")
    (dist / "assets" / "index-abc.js").write_text("console.log('portal')")
    (tmp_path / "secret.txt").write_text("outside the build")
    return dist


async def test_the_app_routes_get_index_html_with_a_strict_policy(built: Path) -> None:
    client = _client(built)
    for path in ("/", "/devices", "/devices/d-1", "/applications/climate", "/deployments/x?tab=logs"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.text == INDEX
        assert response.headers["content-security-policy"] == serve.CONTENT_SECURITY_POLICY
        assert "script-src 'self';" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-frame-options"] == "DENY"


async def test_assets_are_cached_for_good_and_files_beside_the_index_are_served(built: Path) -> None:
    client = _client(built)
    asset = await client.get("/assets/index-abc.js")
    assert asset.status_code == 200 and asset.text == "console.log('portal')"
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert (await client.get("/favicon.svg")).text == "<svg/>"
    missing = await client.get("/assets/index-gone.js")
    assert missing.status_code == 404 and "immutable" not in missing.headers.get("cache-control", "")


async def test_the_apis_paths_are_never_the_portals(built: Path) -> None:
    metrics = Metrics()
    client = _client(built, metrics)
    assert (await client.get("/api/v1/ping")).json() == {"pong": "yes"}
    for path in ("/api/v1/nothing", "/api/v2", "/metrics", "/openapi.json", "/docs", "/apps/default/x/"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert metrics.registry.get_sample_value("fieldhub_api_errors_total", {"code": "not_found"}) == 6


async def test_nothing_outside_the_build_is_served(built: Path) -> None:
    client = _client(built)
    for path in (
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/../../secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
    ):
        assert "outside the build" not in (await client.get(path)).text, path


async def test_without_a_build_the_hub_says_how_to_make_one(tmp_path: Path) -> None:
    client = _client(tmp_path / "no-dist")
    response = await client.get("/devices")
    assert response.status_code == 503
    assert "make portal" in response.text
    assert (await client.get("/api/v1/ping")).status_code == 200

"""docs/api.md against the running hub: its routes, the live stream's events, and the browsable docs pages."""

from __future__ import annotations

import asyncio
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson
import pytest

from cloud.runtime import HubRuntime
from tests.helpers.hub import Api, connected_device

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
API_MD = ROOT / "docs" / "api.md"
_ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`?\s]*)")
_API_PATH = re.compile(r"/api/v1/[A-Za-z0-9_{}$./-]*[A-Za-z0-9_}]")
#: Sections of docs/api.md whose tables give whole paths; the others give paths under /api/v1.
_WHOLE_PATHS = {"System"}


def _template(path: str) -> str:
    """A path with its parameters unnamed: ``/devices/{id}`` and ``/devices/{device_id}`` are one route."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def documented_routes(text: str) -> set[tuple[str, str]]:
    """Every ``METHOD /path`` that docs/api.md names, as (method, whole path template)."""
    found: set[tuple[str, str]] = set()
    section = ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = line.removeprefix("## ").strip()
        for method, path in _ROUTE.findall(line):
            whole = path if path.startswith("/api/") or section in _WHOLE_PATHS else f"/api/v1{path}"
            found.add((method, _template(whole)))
    return found


async def _openapi(api: Api) -> dict[str, Any]:
    spec: dict[str, Any] = (await api.http.get("/openapi.json")).json()
    return spec


def served_routes(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), _template(path)) for path, ops in spec["paths"].items() for method in ops}


async def test_api_doc_names_every_route_of_the_app_and_no_other(hub: HubRuntime, api: Api) -> None:
    served = served_routes(await _openapi(api))
    documented = documented_routes(API_MD.read_text())
    assert documented - served == set(), "docs/api.md names routes the app does not have"
    assert served - documented == set(), "routes of the app that docs/api.md does not name"


async def test_every_api_path_in_the_docs_is_a_route(hub: HubRuntime, api: Api) -> None:
    # Paths in prose and examples too (curl lines, the agent's and the devices' guides): each must match a route.
    patterns = [
        re.compile("^" + re.escape(_template(path)).replace(r"\{\}", "[^/]+") + "$")
        for path in (await _openapi(api))["paths"]
    ]
    unknown = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for path in _API_PATH.findall(doc.read_text()):
            if not any(p.match(path) for p in patterns):
                unknown.append(f"{doc.relative_to(ROOT)}: {path}")
    assert unknown == []


def _documented_live_event() -> tuple[str, dict[str, Any]]:
    """The event name and data of the live stream's example in docs/api.md."""
    block = re.search(r"```\n(event: telemetry\n[^`]*)```", API_MD.read_text())
    assert block is not None, "docs/api.md has no example of a live telemetry event"
    fields = dict(line.split(": ", 1) for line in block.group(1).splitlines() if line)
    return fields["event"], orjson.loads(fields["data"])


async def test_live_stream_event_is_as_documented(hub: HubRuntime, api: Api, unique_id: str) -> None:
    event, example = _documented_live_event()
    first = example["readings"][0]
    stamps = {(r["ts"], r["seq"]) for r in example["readings"]}
    assert stamps == {(first["ts"], first["seq"])}, "the example should be the readings of one message"
    # The documented message, sent by a real device: its event must be the example's, with this device's id.
    message = {"ts": first["ts"], "values": {r["key"]: r["value"] for r in example["readings"]}, "seq": first["seq"]}
    device = await connected_device(hub, unique_id, api)
    token = api.http.headers["Authorization"].split()[1]
    try:
        async with api.http.stream(
            "GET", f"/api/v1/devices/{unique_id}/live", params={"access_token": token}, headers={"Authorization": ""}
        ) as response:
            assert response.status_code == 200
            lines = response.aiter_lines()
            assert (await anext(lines)).startswith(":")  # the stream is open before the message is sent
            await asyncio.to_thread(device.publish, f"devices/{unique_id}/telemetry", orjson.dumps(message))
            received: dict[str, str] = {}
            async with asyncio.timeout(10):
                async for line in lines:
                    if line.startswith(("event: ", "data: ")):
                        name, value = line.split(": ", 1)
                        received[name] = value
                    elif not line and "data" in received:
                        break
    finally:
        await asyncio.to_thread(device.close)
    assert received["event"] == event
    data = orjson.loads(received["data"])
    assert list(data) == list(example)
    assert data["device_id"] == unique_id
    by_key = sorted(data["readings"], key=lambda r: r["key"])
    assert by_key == sorted(example["readings"], key=lambda r: r["key"])
    assert all(list(r) == list(first) for r in data["readings"])


class _Assets(HTMLParser):
    """The URLs a page loads (scripts, styles, icons, images) and any absolute URL in its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and name in ("src", "href", "spec-url"):
                self.urls.append(value)

    def handle_data(self, data: str) -> None:
        self.inline += re.findall(r"https?://[^\s'\"`]+", data)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_only_the_hubs_own_assets(hub: HubRuntime, api: Api, page: str) -> None:
    response = await api.http.get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assets = _Assets()
    assets.feed(response.text)
    assert assets.urls, f"{page} references no assets"
    assert assets.inline == [], f"{page} names outside URLs in its scripts"
    origin = urlsplit(hub.url)
    for url in assets.urls:
        absolute = urlsplit(urljoin(hub.url + page, url))
        assert (absolute.scheme, absolute.netloc) == (origin.scheme, origin.netloc), f"{page} loads {url}"
        answer = await api.http.get(absolute.path)
        assert answer.status_code == 200, f"{url}: {answer.status_code}"
        assert answer.content, url
    assert '"validatorUrl": null' in response.text or page == "/redoc"
    # The browser is told so too: what a page's scripts might still reach for elsewhere is never requested.
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "http" not in policy

"""The hub's API docs in a real browser on a network without Internet access: everything comes from the hub."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.helpers.browser import BrowserThread, OfflinePage, offline_page
from tests.helpers.process import HubProcess

pytestmark = pytest.mark.timeout(90)
CDN_SCRIPT = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"


async def _swagger_ui(browser: Browser, hub_url: str) -> OfflinePage:
    async with offline_page(browser, hub_url) as docs:
        await docs.page.goto(f"{hub_url}/docs")
        await expect(docs.page.get_by_role("heading", name=re.compile(r"^Fieldhub"))).to_be_visible()
        # The operations list, read from /openapi.json: one of the API's paths.
        devices = docs.page.locator(".opblock-summary-path[data-path='/api/v1/devices']")
        await expect(devices.first).to_be_visible()
        await expect(docs.page.get_by_role("button", name="Authorize", exact=True)).to_be_visible()
    return docs


async def _redoc(browser: Browser, hub_url: str) -> OfflinePage:
    async with offline_page(browser, hub_url) as docs:
        await docs.page.goto(f"{hub_url}/redoc")
        await expect(docs.page.get_by_role("heading", name=re.compile(r"^Fieldhub"))).to_be_visible()
        await expect(docs.page.get_by_text("/api/v1/devices").first).to_be_attached()
    return docs


async def _cdn_script(browser: Browser, hub_url: str) -> tuple[OfflinePage, str]:
    async with offline_page(browser, hub_url) as page:
        await page.page.goto(f"{hub_url}/healthz")
        await page.page.set_content(f'<script src="{CDN_SCRIPT}"></script>')
        loaded = await page.page.evaluate("typeof SwaggerUIBundle")
    return page, loaded


def test_swagger_ui_renders_from_the_hub_alone(browser: BrowserThread, hub_process: HubProcess) -> None:
    docs = browser.run(_swagger_ui(browser.browser, hub_process.url))
    assert docs.outside == [], "requests outside the hub"
    assert docs.failed == [] and docs.errors == []


def test_redoc_renders_from_the_hub_alone(browser: BrowserThread, hub_process: HubProcess) -> None:
    docs = browser.run(_redoc(browser.browser, hub_process.url))
    assert docs.outside == [], "requests outside the hub"
    assert docs.failed == [] and docs.errors == []


def test_a_request_outside_the_hub_is_blocked_and_recorded(browser: BrowserThread, hub_process: HubProcess) -> None:
    # The guard itself: a page that reaches for a CDN is caught, and gets nothing from it.
    page, loaded = browser.run(_cdn_script(browser.browser, hub_process.url))
    assert loaded == "undefined"
    assert page.outside == [CDN_SCRIPT]

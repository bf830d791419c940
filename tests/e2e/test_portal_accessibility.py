"""Every main page of the portal, at desktop and phone widths: labelled controls, no sideways scrolling, a skip link
first in the tab order, headings, and nothing loaded from outside the hub."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.helpers.browser import BrowserThread
from tests.helpers.hub import ADMIN_PASSWORD
from tests.helpers.portal import signed_in
from tests.helpers.process import HubProcess, logged_in

pytestmark = pytest.mark.timeout(120)

PAGES = (
    "/",
    "/devices",
    "/devices/acc-sensor",
    "/nodes",
    "/applications",
    "/admin",
    "/alarms",
    "/alarms/rules",
    "/alarms/channels",
    "/profiles",
    "/account/api-keys",
    "/admin/audit",
)
#: A control without an accessible name, as a screen reader would meet it (empty list: none).
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button, a[href], [role=button]')]
  .filter((el) => el.type !== 'hidden' && el.getClientRects().length > 0)
  .filter((el) => {
    const named = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
      || (el.labels && el.labels.length > 0) || el.getAttribute('title');
    const text = (el.innerText || el.value || '').trim();
    return !(named || (['BUTTON', 'A'].includes(el.tagName) || el.getAttribute('role') === 'button') && text);
  })
  .map((el) => el.outerHTML.slice(0, 120))"""
SIDEWAYS = "() => document.documentElement.scrollWidth - window.innerWidth"


async def _check(browser: Browser, url: str, width: int, height: int) -> dict[str, object]:
    found: dict[str, object] = {}
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        await page.page.set_viewport_size({"width": width, "height": height})
        for path in PAGES:
            await page.page.goto(url + path)
            await expect(page.page.get_by_role("heading", level=1)).to_be_visible()
            await expect(page.page.get_by_text("Loading…")).to_have_count(0)
            found[f"{path} unlabelled"] = await page.page.evaluate(UNLABELLED)
            found[f"{path} sideways px"] = await page.page.evaluate(SIDEWAYS)
            await page.page.keyboard.press("Tab")
            found[f"{path} first tab"] = await page.page.evaluate("() => document.activeElement.textContent")
        found["outside"] = page.outside
        found["errors"] = page.errors
    return found


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (375, 740)], ids=["desktop", "phone"])
def test_main_pages_are_labelled_and_fit(
    browser: BrowserThread, portal_hub: HubProcess, width: int, height: int
) -> None:
    with logged_in(portal_hub.url) as http:
        created = http.post("/api/v1/devices", json={"id": "acc-sensor", "name": "Accessible sensor"})
        assert created.status_code in (201, 409)  # the other width made it
    found = browser.run(_check(browser.browser, portal_hub.url, width, height))
    for path in PAGES:
        assert found[f"{path} unlabelled"] == [], path
        assert found[f"{path} sideways px"] == 0, path
        assert found[f"{path} first tab"] == "Skip to content", path
    assert found["outside"] == [] and found["errors"] == []

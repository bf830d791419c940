"""Every main page of the portal (and an alarm's page, a device's reading raising the alarm), at desktop and phone
widths: labelled controls, no sideways scrolling, a skip link first in the tab order, headings, and nothing loaded
from outside the hub."""

from __future__ import annotations

import re

import orjson
import pytest
from playwright.async_api import Browser, Page, expect

from tests.helpers.browser import BrowserThread
from tests.helpers.hub import ADMIN_PASSWORD
from tests.helpers.mqtt import TestDevice
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
#: The page of the alarm the device's reading raises (its id is the hub's), checked with the others.
ALARM_PAGE = "the alarm page"
DEVICE = "acc-sensor"


@pytest.fixture(scope="module")
def alarmed_device(portal_hub: HubProcess) -> None:
    """``acc-sensor``, with an alarm raised by its reading over a rule's limit (the alarm page needs one)."""
    with logged_in(portal_hub.url) as http:
        labels = {"suite": "acc"}
        made = http.post("/api/v1/devices", json={"id": DEVICE, "name": "Accessible sensor", "labels": labels})
        assert made.status_code == 201, made.text
        rule = {"name": "Too warm", "selector": labels, "key": "t", "kind": "threshold", "op": ">", "value": 30}
        assert http.post("/api/v1/rules", json=rule | {"message": "{device} is too warm"}).status_code == 201
    device = TestDevice(portal_hub.mqtt_port, DEVICE, made.json()["credentials"]["password"]).connect()
    try:
        device.publish(f"devices/{DEVICE}/telemetry", orjson.dumps({"values": {"t": 31.5}}))
    finally:
        device.close()


async def _alarm_page(page: Page, url: str) -> str:
    """The path of the device's alarm, from its link on the alarms list (waiting for the alarm to be raised)."""
    await page.goto(f"{url}/alarms?device={DEVICE}")
    link = page.get_by_role("table", name="Alarms").get_by_role("link", name=f"{DEVICE} is too warm")
    path = await link.get_attribute("href")
    assert path is not None and path.startswith("/alarms/al-"), path
    return path


async def _check(browser: Browser, url: str, width: int, height: int) -> dict[str, object]:
    found: dict[str, object] = {}
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        await page.page.set_viewport_size({"width": width, "height": height})
        paths = {path: path for path in PAGES} | {ALARM_PAGE: await _alarm_page(page.page, url)}
        for name, path in paths.items():
            await page.page.goto(url + path)
            await expect(page.page.get_by_role("heading", level=1)).to_be_visible()
            # Every page says "Loading …" in a status while its data is on the way.
            await expect(page.page.get_by_role("status").filter(has_text=re.compile("^Loading"))).to_have_count(0)
            found[f"{name} unlabelled"] = await page.page.evaluate(UNLABELLED)
            found[f"{name} sideways px"] = await page.page.evaluate(SIDEWAYS)
            await page.page.keyboard.press("Tab")
            found[f"{name} first tab"] = await page.page.evaluate("() => document.activeElement.textContent")
        found["outside"] = page.outside
        found["errors"] = page.errors
    return found


@pytest.mark.usefixtures("alarmed_device")
@pytest.mark.parametrize(("width", "height"), [(1280, 800), (375, 740)], ids=["desktop", "phone"])
def test_main_pages_are_labelled_and_fit(
    browser: BrowserThread, portal_hub: HubProcess, width: int, height: int
) -> None:
    found = browser.run(_check(browser.browser, portal_hub.url, width, height))
    for name in (*PAGES, ALARM_PAGE):
        assert found[f"{name} unlabelled"] == [], name
        assert found[f"{name} sideways px"] == 0, name
        assert found[f"{name} first tab"] == "Skip to content", name
    assert found["outside"] == [] and found["errors"] == []

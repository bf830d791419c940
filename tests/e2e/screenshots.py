"""Screenshots of the portal's main pages for docs/portal.md, from a real ``fieldhub up --demo``.

Run: ``.venv/bin/python -m tests.e2e.screenshots`` (writes docs/portal/*.png). Not a test: pictures for people.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from playwright.async_api import Page, async_playwright, expect

from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, OfflinePage
from tests.helpers.hub import ADMIN_PASSWORD
from tests.helpers.portal import ROOT, ensure_portal_built, sign_in
from tests.helpers.process import logged_in, running_hub_process

OUT = ROOT / "docs" / "portal"
PAGES = {
    "overview": "/",
    "devices": "/devices",
    "device": "/devices/greenhouse-1",
    "nodes": "/nodes",
    "apps": "/applications",
    "admin": "/admin",
    "alarms": "/alarms",
}
#: A rule the demo's greenhouses meet at once (they stay between about 17 and 25 °C), so the alarms page has rows.
DEMO_RULE = {
    "name": "Greenhouse warm",
    "selector": {"site": "north"},
    "key": "temperature",
    "kind": "threshold",
    "op": ">",
    "value": 10,
    "severity": "major",
    "message": "{device_name} is at {value:.1f} ({threshold})",
}


async def _shoot(page: Page, url: str, name: str, path: str) -> None:
    await page.goto(url + path)
    await expect(page.get_by_role("heading", level=1)).to_be_visible()
    await expect(page.get_by_text("Loading…")).to_have_count(0)
    if name == "device":
        await expect(page.get_by_text("points, last").first).to_be_visible()
    if name == "alarms":
        await expect(page.get_by_role("table", name="Alarms").get_by_text("Greenhouse warm").first).to_be_visible()
    await page.screenshot(path=OUT / f"{name}.png", full_page=True)


async def _run(url: str) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        page = OfflinePage(await context.new_page())
        await sign_in(page, url, "admin", ADMIN_PASSWORD)
        for name, path in PAGES.items():
            await _shoot(page.page, url, name, path)
        await page.page.set_viewport_size({"width": 390, "height": 844})
        await _shoot(page.page, url, "device-phone", "/devices/greenhouse-1")
        await browser.close()


def main() -> None:
    ensure_portal_built()
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, running_hub_process(Path(tmp) / "data", "--demo") as hub:
        with logged_in(hub.url) as http:
            http.post("/api/v1/provisioning-tokens", json={}).raise_for_status()
            http.post("/api/v1/rules", json=DEMO_RULE).raise_for_status()
        asyncio.run(_run(hub.url))
    print(f"wrote {', '.join(sorted(p.name for p in OUT.glob('*.png')))} in {OUT}")


if __name__ == "__main__":
    main()

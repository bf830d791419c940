"""The portal's overview against a real hub: device counts follow the API and a real MQTT device, the ingest
figures and refusals show, and an event the hub records appears live."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.helpers.browser import BrowserThread
from tests.helpers.hub import ADMIN_PASSWORD, Api
from tests.helpers.mqtt import TestDevice
from tests.helpers.portal import signed_in
from tests.helpers.process import HubProcess
from tests.integration.test_deployments_api import beat, push_bound_app, report

pytestmark = pytest.mark.timeout(120)
#: The counts refresh every 5 s.
REFRESH_MS = 15_000


def count(http: httpx.Client, status: str | None = None) -> int:
    params = {"limit": 1} | ({"status": status} if status else {})
    total: int = http.get("/api/v1/devices", params=params).json()["total"]
    return total


def create_device(http: httpx.Client, device_id: str, **body: str) -> str:
    created = http.post("/api/v1/devices", json={"id": device_id, "name": device_id, **body})
    assert created.status_code == 201, created.text
    secret: str = created.json()["credentials"]["password"]
    return secret


async def figure(page: Page, label: str, value: int | str) -> None:
    card = page.get_by_role("region", name=label, exact=True)
    await expect(card.locator(".figure")).to_have_text(str(value), timeout=REFRESH_MS)


async def _device_counts(browser: Browser, hub: HubProcess, before: dict[str, int], secret: str) -> None:
    async with signed_in(browser, hub.url, "admin", ADMIN_PASSWORD) as page:
        await expect(page.page.get_by_role("heading", name="Overview")).to_be_visible()
        await figure(page.page, "Devices in total", before["total"] + 3)
        await figure(page.page, "Devices offline", before["offline"] + 3)
        await figure(page.page, "Devices online", before["online"])
        device = await asyncio.to_thread(TestDevice(hub.mqtt_port, "ov-device-1", secret).connect)
        try:
            await figure(page.page, "Devices online", before["online"] + 1)
            await figure(page.page, "Devices offline", before["offline"] + 2)
            # A platform admin sees the ingest figures; a refused connection is counted by its reason.
            await expect(page.page.get_by_role("region", name="Messages per second")).to_be_visible()
            await asyncio.to_thread(
                TestDevice(hub.mqtt_port, "ov-device-2", "wrong-password").connect, expect_success=False
            )
            refusals = page.page.get_by_role("table", name="Refusals by reason")
            await expect(refusals.get_by_role("row").filter(has_text="Refused")).not_to_have_count(
                0, timeout=REFRESH_MS
            )
        finally:
            await asyncio.to_thread(device.close)
        await figure(page.page, "Devices online", before["online"])
    assert page.errors == [] and page.outside == []


def test_device_counts_follow_the_api_and_a_real_device(
    browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client
) -> None:
    before = {"total": count(http), "online": count(http, "online"), "offline": count(http, "offline")}
    secret = create_device(http, "ov-device-1")
    create_device(http, "ov-device-2")
    create_device(http, "ov-device-3")
    browser.run(_device_counts(browser.browser, portal_hub, before, secret), timeout=90)


def running_instance(http: httpx.Client, hub: HubProcess, tmp_path: Path) -> TestDevice:
    """A gateway whose sensor an app binds to, the app deployed on it, and the gateway saying it runs."""
    node_id = "gw-overview"
    gw = TestDevice(hub.mqtt_port, node_id, create_device(http, node_id, kind="gateway")).connect()
    gw.publish(f"devices/{node_id}/heartbeat", beat("temperature", "greenhouse-ov"))

    async def push() -> None:
        api = await Api.login(hub.url)
        try:
            await push_bound_app(api, tmp_path, "climate", "temperature", "greenhouse-ov")
        finally:
            await api.close()

    asyncio.run(push())
    deployed = http.post("/api/v1/deployments", json={"app": "climate"})
    assert deployed.status_code == 201, deployed.text
    assert [i["node"] for i in deployed.json()["instances"]] == [node_id], deployed.text
    gw.publish(f"devices/{node_id}/apps", report(deployed.json()["id"], "running"))
    return gw


async def _live_event(browser: Browser, http: httpx.Client, hub: HubProcess, tmp_path: Path) -> None:
    async with signed_in(browser, hub.url, "admin", ADMIN_PASSWORD) as page:
        await expect(page.page.get_by_text("Live: new events appear as they happen.")).to_be_visible()
        gw = await asyncio.to_thread(running_instance, http, hub, tmp_path)
        try:
            events = page.page.get_by_role("list", name="Recent events")
            await expect(events).to_contain_text("climate 0.1.0 on gw-overview: running")
            await expect(events.get_by_role("link", name="gw-overview")).to_be_visible()
        finally:
            await asyncio.to_thread(gw.close)
    assert page.errors == [] and page.outside == []


def test_an_event_appears_live(
    browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client, tmp_path: Path
) -> None:
    browser.run(_live_event(browser.browser, http, portal_hub, tmp_path), timeout=90)

"""The portal's Devices pages against a real hub and real MQTT devices: one-time credentials that work, a device
coming online and its chart growing live, a command answered, search and filters, desired state, deletion."""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

import httpx
import orjson
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.helpers.browser import BrowserThread, OfflinePage
from tests.helpers.hub import ADMIN_PASSWORD
from tests.helpers.mqtt import TestDevice, answer_commands
from tests.helpers.portal import signed_in
from tests.helpers.process import HubProcess

pytestmark = pytest.mark.timeout(120)
#: The list refreshes every 3 s and a device page every 5 s: a status change shows within one refresh.
REFRESH_MS = 15_000


def register(http: httpx.Client, device_id: str, **body: Any) -> str:
    """Register ``device_id`` through the API; its one-time password."""
    created = http.post("/api/v1/devices", json={"id": device_id, "name": device_id, **body})
    assert created.status_code == 201, created.text
    password: str = created.json()["credentials"]["password"]
    return password


def refusals(page: OfflinePage) -> list[str]:
    """The page's refused requests, but the session check of the sign-in page before signing in."""
    return [f for f in page.failed if not (f.startswith("401 ") and f.endswith("/api/v1/auth/session"))]


def row_of(page: Page, device_id: str) -> Locator:
    table = page.get_by_role("table", name="Devices")
    return table.get_by_role("row").filter(has=page.get_by_role("link", name=device_id, exact=True))


def chart_of(page: Page, key: str) -> Locator:
    return page.locator("figure").filter(has=page.get_by_role("img", name=f"Chart of {key}"))


# (a) create a device and use its one-time credentials


async def _create_in_portal(browser: Browser, url: str, port: int) -> None:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        p = page.page
        await p.get_by_role("navigation", name="Main").get_by_role("link", name="Devices").click()
        await expect(p.get_by_role("heading", name="Devices", exact=True)).to_be_visible()
        await p.get_by_role("button", name="Create device").click()
        form = p.get_by_role("region", name="Create a device")
        await form.get_by_label("Name").fill("Made in the portal")
        await form.get_by_label("ID (optional)").fill("portal-made")
        await form.get_by_label("Kind").select_option("device")
        await form.get_by_label("Labels").fill("site=lab\nfloor = 2")
        await form.get_by_role("button", name="Create").click()

        secret = p.get_by_role("region", name="Credentials of the new device")
        await expect(secret).to_contain_text("Shown once")
        await expect(secret.get_by_role("button", name="Copy password")).to_be_visible()
        username = await secret.get_by_label("Username", exact=True).input_value()
        password = await secret.get_by_label("Password", exact=True).input_value()
        assert username == "portal-made" and len(password) >= 16
        # The credentials are real: the broker lets the device in with them.
        device = await asyncio.to_thread(TestDevice(port, username, password).connect)
        await asyncio.to_thread(device.close)

        await p.get_by_role("link", name="Open device portal-made").click()
        await expect(p.get_by_role("heading", name="Device portal-made")).to_be_visible()
        await expect(p.get_by_role("definition").filter(has_text="site=lab")).to_contain_text("floor=2")

        # Rotating shows a new one-time password; the old one stops working at once.
        await p.get_by_role("button", name="Rotate credentials").click()
        await p.get_by_role("button", name="Rotate now").click()
        rotated = p.get_by_role("region", name="New credentials")
        await expect(rotated).to_contain_text("Shown once")
        new_password = await rotated.get_by_label("Password", exact=True).input_value()
        assert new_password != password
        old = await asyncio.to_thread(TestDevice(port, username, password).connect, expect_success=False)
        assert old.refused
        await asyncio.to_thread(old.client.loop_stop)
        fresh = await asyncio.to_thread(TestDevice(port, username, new_password).connect)
        await asyncio.to_thread(fresh.close)
    assert page.errors == [] and page.outside == [] and refusals(page) == []


def test_create_a_device_and_connect_with_its_one_time_credentials(
    browser: BrowserThread, portal_hub: HubProcess
) -> None:
    browser.run(_create_in_portal(browser.browser, portal_hub.url, portal_hub.mqtt_port), timeout=90)


# (b) a device comes online and its chart gains points live


async def _until_live(page: Page, device: TestDevice, topic: str) -> None:
    """Publish a warm-up reading until the page's latest values show one that came over the live stream."""
    latest = page.get_by_role("table", name="Latest values").get_by_role("row").filter(has_text="warmup")
    for attempt in range(1, 30):
        await asyncio.to_thread(device.publish, topic, orjson.dumps({"values": {"warmup": f"ping-{attempt}"}}))
        try:
            await expect(latest).to_contain_text(f"ping-{attempt}", timeout=1_000)
        except AssertionError:
            continue
        return
    raise AssertionError("no reading arrived over the live stream")


async def _online_and_live(browser: Browser, url: str, port: int, password: str) -> None:
    device_id = "live-portal"
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        p = page.page
        await p.goto(f"{url}/devices?q={device_id}")
        row = row_of(p, device_id)
        await expect(row).to_contain_text("offline")
        device = await asyncio.to_thread(TestDevice(port, device_id, password).connect)
        try:
            await expect(row).to_contain_text("online", timeout=REFRESH_MS)
            await row.get_by_role("link", name=device_id).click()
            await expect(p.get_by_role("heading", name=f"Device {device_id}")).to_be_visible()
            await expect(p.get_by_text("Live updates: on")).to_be_visible()
            topic = f"devices/{device_id}/telemetry"
            # The browser sees the stream open a moment before the hub follows it for this page: a reading
            # arriving live proves it follows (readings before that are only in the stored data).
            await _until_live(p, device, topic)

            # The first reading makes the key known: its chart appears with the stored point.
            await asyncio.to_thread(device.publish, topic, orjson.dumps({"values": {"temp": 20}}))
            chart = chart_of(p, "temp")
            await expect(chart).to_contain_text("1 point, last 20")
            latest = p.get_by_role("table", name="Latest values").get_by_role("row").filter(has_text="temp")
            await expect(latest).to_contain_text("20")
            # Then each reading arrives over the live stream, while the page stays open.
            for value in range(21, 26):
                await asyncio.to_thread(device.publish, topic, orjson.dumps({"values": {"temp": value}}))
                await expect(chart).to_contain_text(re.compile(rf"{value - 19} points, last {value}\b"))
            await expect(latest).to_contain_text("25")
            # Aggregated, the same readings are one bucket or a few.
            await p.get_by_label("Aggregation").select_option("max")
            await expect(chart).to_contain_text(re.compile(r"\d+ points?, last 25\b"))
        finally:
            await asyncio.to_thread(device.close)
    assert page.errors == [] and page.outside == [] and refusals(page) == []


def test_a_device_comes_online_and_its_chart_grows_live(
    browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client
) -> None:
    password = register(http, "live-portal")
    browser.run(_online_and_live(browser.browser, portal_hub.url, portal_hub.mqtt_port, password), timeout=100)


# (c) a command and its answer


async def _command(browser: Browser, url: str, device_id: str, offline_id: str) -> None:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        p = page.page
        await p.goto(f"{url}/devices/{device_id}")
        await expect(p.get_by_role("heading", name=f"Device {device_id}")).to_be_visible()
        form = p.get_by_role("region", name="Send a command")
        await form.get_by_label("Command name").fill("reboot")
        await form.get_by_label("Parameters (JSON)").fill("{not json")
        await form.get_by_role("button", name="Send command").click()
        await expect(form.get_by_text("Invalid JSON")).to_be_visible()
        await form.get_by_label("Parameters (JSON)").fill('{"delay": 3}')
        await form.get_by_label("Timeout (seconds)").fill("10")
        await form.get_by_role("button", name="Send command").click()
        answer = form.get_by_role("status", name="Command answer")
        await expect(answer).to_contain_text("Answer: ok")
        await expect(answer).to_contain_text('"delay": 3')

        # A device that is not connected: the API's own message.
        await p.goto(f"{url}/devices/{offline_id}")
        form = p.get_by_role("region", name="Send a command")
        await form.get_by_label("Command name").fill("reboot")
        await form.get_by_role("button", name="Send command").click()
        await expect(form.get_by_role("alert")).to_contain_text("offline")
    assert page.errors == [] and page.outside == []


def test_send_a_command_and_see_the_answer(browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client) -> None:
    device_id = "cmd-portal"
    device = TestDevice(portal_hub.mqtt_port, device_id, register(http, device_id)).connect()
    register(http, "cmd-portal-offline")
    stop = threading.Event()
    try:
        assert not device.subscribe(f"devices/{device_id}/commands/+")[0].is_failure
        threading.Thread(target=answer_commands, args=(device, stop), daemon=True).start()
        browser.run(_command(browser.browser, portal_hub.url, device_id, "cmd-portal-offline"), timeout=90)
    finally:
        stop.set()
        device.close()


# (d) search and filters


async def _search(browser: Browser, url: str) -> None:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        p = page.page
        await p.goto(f"{url}/devices")
        search = p.get_by_role("search", name="Filter devices")
        table = p.get_by_role("table", name="Devices")
        await search.get_by_label("Search").fill("srch-alpha")
        await search.get_by_label("Search").press("Enter")
        await expect(p).to_have_url(re.compile(r"[?&]q=srch-alpha"))
        await expect(p.get_by_text("2 devices match the filters")).to_be_visible()
        await expect(row_of(p, "srch-alpha-1")).to_be_visible()
        await expect(row_of(p, "srch-alpha-2")).to_be_visible()
        await expect(table.get_by_role("link", name="srch-beta-1")).to_have_count(0)

        await search.get_by_label("Label").fill("zone")
        await search.get_by_role("button", name="Apply filters").click()
        await expect(search.get_by_text("Write the label as key=value")).to_be_visible()
        await search.get_by_label("Label").fill("zone=north")
        await search.get_by_role("button", name="Apply filters").click()
        await expect(p.get_by_text("1 device matches the filters")).to_be_visible()
        await expect(row_of(p, "srch-alpha-1")).to_contain_text("zone=north")

        # By name, in any case, with the label filter still on.
        await search.get_by_label("Search").fill("BOILER")
        await search.get_by_label("Search").press("Enter")
        await expect(p.get_by_text("1 device matches the filters")).to_be_visible()
        await expect(row_of(p, "srch-alpha-1")).to_be_visible()
        await search.get_by_label("Status").select_option("online")
        await search.get_by_role("button", name="Apply filters").click()
        await expect(table).to_contain_text("No device matches the filters.")

        # Back restores the previous filters, fields and rows alike; a reload keeps them.
        await p.go_back()
        await expect(search.get_by_label("Status")).to_have_value("")
        await expect(search.get_by_label("Search")).to_have_value("BOILER")
        await expect(row_of(p, "srch-alpha-1")).to_be_visible()
        await p.reload()
        await expect(search.get_by_label("Label")).to_have_value("zone=north")
        await expect(p.get_by_text("1 device matches the filters")).to_be_visible()
    assert page.errors == [] and page.outside == [] and refusals(page) == []


def test_search_and_filters_narrow_the_list(browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client) -> None:
    register(http, "srch-alpha-1", name="Boiler North", labels={"zone": "north"})
    register(http, "srch-alpha-2", name="Boiler South", labels={"zone": "south"})
    register(http, "srch-beta-1", name="Fan", labels={"zone": "north"})
    browser.run(_search(browser.browser, portal_hub.url), timeout=90)


# (e) desired state


async def _desired(browser: Browser, url: str, device_id: str) -> None:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        p = page.page
        await p.goto(f"{url}/devices/{device_id}")
        state = p.get_by_role("region", name="State")
        editor = state.get_by_label("Desired state (JSON)")
        save = state.get_by_role("button", name="Save desired state")
        await editor.fill('{"interval": ')
        await save.click()
        await expect(state.get_by_text("Invalid JSON")).to_be_visible()
        await expect(editor).to_have_attribute("aria-invalid", "true")
        await editor.fill("[1, 2]")
        await save.click()
        await expect(state.get_by_text("Must be a JSON object")).to_be_visible()
        await editor.fill('{"interval": 30, "mode": "eco"}')
        await save.click()
        await expect(state.get_by_role("status")).to_contain_text("Desired state saved (version 1)")
        await expect(state.locator("pre")).to_contain_text('"mode": "eco"')
    assert page.errors == [] and page.outside == [] and refusals(page) == []


def test_desired_state_is_validated_then_saved(
    browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client
) -> None:
    register(http, "state-portal")
    browser.run(_desired(browser.browser, portal_hub.url, "state-portal"), timeout=90)
    saved = http.get("/api/v1/devices/state-portal/state").json()
    assert saved["desired"]["state"] == {"interval": 30, "mode": "eco"}


# (f) delete with confirmation


async def _delete(browser: Browser, url: str, device_id: str) -> None:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        p = page.page
        await p.goto(f"{url}/devices/{device_id}")
        await expect(p.get_by_role("heading", name=f"Device {device_id}")).to_be_visible()
        await p.get_by_role("button", name="Delete device").click()
        question = p.get_by_role("group", name=f"Delete {device_id} with all its data?")
        await question.get_by_role("button", name="Cancel").click()
        await expect(question).to_have_count(0)
        await p.get_by_role("button", name="Delete device").click()
        await question.get_by_role("button", name="Delete for good").click()
        await expect(p).to_have_url(f"{url}/devices")
        await expect(p.get_by_role("heading", name="Devices", exact=True)).to_be_visible()
        await expect(p.get_by_role("table", name="Devices").get_by_role("link", name=device_id)).to_have_count(0)
    assert page.errors == [] and page.outside == []


def test_delete_a_device_after_confirming(browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client) -> None:
    register(http, "delete-portal")
    browser.run(_delete(browser.browser, portal_hub.url, "delete-portal"), timeout=90)
    assert http.get("/api/v1/devices/delete-portal").status_code == 404

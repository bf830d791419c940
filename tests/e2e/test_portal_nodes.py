"""The portal's Nodes pages against a real hub: a gateway's heartbeat figures, sensors and logs, and
provisioning tokens created (the secret shown once), used and revoked."""

from __future__ import annotations

import asyncio
import re

import httpx
import orjson
import pytest
from playwright.async_api import Browser, expect

from tests.helpers.browser import BrowserThread
from tests.helpers.hub import ADMIN_PASSWORD
from tests.helpers.mqtt import TestDevice
from tests.helpers.portal import signed_in
from tests.helpers.process import HubProcess
from tests.integration.test_nodes import _beat

pytestmark = pytest.mark.timeout(120)
#: The Nodes pages refresh every 5 s: a new heartbeat shows within one refresh.
REFRESH_MS = 15_000


def gateway(http: httpx.Client, port: int, node_id: str) -> TestDevice:
    """A gateway registered through the API and connected as the real device."""
    created = http.post("/api/v1/devices", json={"id": node_id, "name": node_id, "kind": "gateway"})
    assert created.status_code == 201, created.text
    return TestDevice(port, node_id, created.json()["credentials"]["password"]).connect()


async def _heartbeat_figures(browser: Browser, url: str, gw: TestDevice) -> None:
    node_id = gw.client_id
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        await page.page.get_by_role("navigation", name="Main").get_by_role("link", name="Nodes").click()
        await expect(page.page.get_by_role("heading", name="Nodes", exact=True)).to_be_visible()
        # A heartbeat sent while the page is open shows within its refresh.
        await asyncio.to_thread(gw.publish, f"devices/{node_id}/heartbeat", _beat(42))
        row = page.page.get_by_role("row").filter(has=page.page.get_by_role("link", name=node_id))
        for figure in ("healthy", "online", "0.30", "41.0 %", "12.0 %", "48.2 °C"):
            await expect(row).to_contain_text(figure, timeout=REFRESH_MS)
        await expect(row.get_by_role("cell").last).to_have_text("42")

        lines = [{"ts": 1_795_000_000_000, "level": "WARNING", "logger": "agent", "message": "spool filling up"}]
        await asyncio.to_thread(gw.publish, f"devices/{node_id}/logs", orjson.dumps(lines))
        await row.get_by_role("link", name=node_id).click()
        await expect(page.page.get_by_role("heading", name=f"Node {node_id}")).to_be_visible()
        health = page.page.get_by_role("region", name="Health")
        await expect(health).to_contain_text("48.2 °C")
        await expect(health).to_contain_text("0.1.0")  # the agent's version
        sensors = page.page.get_by_role("table", name="Sensors of the node")
        probe = sensors.get_by_role("row").filter(has_text="probe")
        await expect(probe).to_contain_text("temperature")
        await expect(probe).to_contain_text("kitchen")
        await expect(sensors.get_by_role("row").filter(has_text="door")).to_contain_text("disabled")
        await expect(page.page.get_by_role("log", name=f"Logs of {node_id}")).to_contain_text(
            "spool filling up", timeout=REFRESH_MS
        )
    assert page.errors == [] and page.outside == []


def test_a_node_shows_its_heartbeat_figures_sensors_and_logs(
    browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client
) -> None:
    gw = gateway(http, portal_hub.mqtt_port, "gw-portal-figures")
    try:
        browser.run(_heartbeat_figures(browser.browser, portal_hub.url, gw), timeout=90)
    finally:
        gw.close()


async def _create_token(browser: Browser, url: str) -> tuple[str, str]:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        await page.page.goto(f"{url}/nodes")
        await page.page.get_by_label("Gateways it may enroll").fill("2")
        await page.page.get_by_role("button", name="Create token").click()
        shown = page.page.get_by_role("region", name="New provisioning token")
        await expect(shown).to_contain_text("shown once")
        await expect(shown.get_by_role("button", name="Copy the provisioning token")).to_be_visible()
        token = await shown.locator("code").inner_text()
        token_id = token.partition(".")[0]
        assert re.fullmatch(r"[^.]+\.[^.]+", token), token
        await expect(page.page.get_by_role("row").filter(has_text=token_id)).to_be_visible()
        # Once: after a reload the list names the token but no longer holds its secret.
        await page.page.reload()
        await expect(page.page.get_by_role("row").filter(has_text=token_id)).to_be_visible()
        await expect(page.page.get_by_text(token)).to_have_count(0)
    return token_id, token


async def _revoke_token(browser: Browser, url: str, token_id: str) -> None:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        await page.page.goto(f"{url}/nodes")
        row = page.page.get_by_role("row").filter(has_text=token_id)
        await expect(row.get_by_role("cell").nth(1)).to_have_text("1")  # uses left, after one enrollment
        await row.get_by_role("button", name=f"Revoke {token_id}").click()
        await row.get_by_role("button", name="Revoke", exact=True).click()
        await expect(row).to_have_count(0)
    # The portal asks for a session before signing in (401); nothing else failed.
    assert [f for f in page.failed if not f.endswith("/api/v1/auth/session")] == []


def test_a_provisioning_token_is_shown_once_works_and_is_revoked(
    browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client
) -> None:
    token_id, token = browser.run(_create_token(browser.browser, portal_hub.url))
    enrolled = httpx.post(f"{portal_hub.url}/api/v1/enroll", json={"token": token, "name": "gw-enrolled"}, timeout=20)
    assert enrolled.status_code == 201, enrolled.text
    browser.run(_revoke_token(browser.browser, portal_hub.url, token_id))
    assert token_id not in {t["id"] for t in http.get("/api/v1/provisioning-tokens").json()["items"]}
    refused = httpx.post(f"{portal_hub.url}/api/v1/enroll", json={"token": token, "name": "gw-late"}, timeout=20)
    assert refused.status_code == 401

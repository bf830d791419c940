"""Tenants and users through the portal against a real hub: the platform admin creates a tenant and its admin,
who sees only its tenant; and signing in and out with the session in an HttpOnly cookie only."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Browser, expect

from contracts.api import SESSION_COOKIE
from tests.helpers.browser import BrowserThread, offline_page
from tests.helpers.hub import ADMIN_PASSWORD
from tests.helpers.portal import sign_in, signed_in
from tests.helpers.process import HubProcess

pytestmark = pytest.mark.timeout(120)
TENANT_ADMIN = "acme-ops"
TENANT_PASSWORD = "acme-password-1"


async def _create_tenant_and_user(browser: Browser, url: str) -> None:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        await page.page.get_by_role("link", name="Tenants and users").click()
        await expect(page.page.get_by_role("heading", name="Tenants", exact=True)).to_be_visible()
        await page.page.get_by_label("Tenant name").fill("Acme")
        await page.page.get_by_label("Tenant id (optional)").fill("acme")
        await page.page.get_by_role("button", name="Create tenant").click()
        tenants = page.page.get_by_role("table", name="Tenants")
        await expect(tenants.get_by_role("row", name=re.compile(r"^acme Acme"))).to_be_visible()

        users = page.page.get_by_role("form", name="New user")
        await users.get_by_label("Username").fill(TENANT_ADMIN)
        await users.get_by_label("Password").fill("short")
        await users.get_by_role("button", name="Create user").click()
        await expect(users.get_by_text("At least 12 characters")).to_be_visible()
        await users.get_by_label("Password").fill(TENANT_PASSWORD)
        await users.get_by_label("Role").select_option("admin")
        await users.get_by_label("Tenant").select_option("acme")
        await users.get_by_role("button", name="Create user").click()
        row = page.page.get_by_role("table", name="Users").get_by_role("row").filter(has_text=TENANT_ADMIN)
        await expect(row.get_by_role("cell").nth(1)).to_have_text("acme")

        # The API refuses deleting the platform admin: its own words show.
        admin = (
            page.page.get_by_role("table", name="Users")
            .get_by_role("row")
            .filter(has=page.page.get_by_role("rowheader", name="admin", exact=True))
        )
        await admin.get_by_role("button", name="Delete admin").click()
        await admin.get_by_role("button", name="Delete", exact=True).click()
        await expect(admin.get_by_role("alert")).to_have_text(
            "the platform admin cannot be deleted; change its password instead"
        )
    assert page.errors == [] and page.outside == []


async def _tenant_view(browser: Browser, url: str) -> None:
    async with signed_in(browser, url, TENANT_ADMIN, TENANT_PASSWORD) as page:
        nav = page.page.get_by_role("navigation", name="Main")
        await expect(nav.get_by_role("link", name="Users", exact=True)).to_be_visible()
        await expect(nav.get_by_role("link", name="Tenants and users")).to_have_count(0)
        # Its tenant's counts; the hub-wide ingest figures are the platform admin's.
        card = page.page.get_by_role("region", name="Devices in total", exact=True)
        await expect(card.locator(".figure")).to_have_text("2")
        await expect(page.page.get_by_role("region", name="Messages per second")).to_have_count(0)

        await nav.get_by_role("link", name="Devices").click()
        await expect(page.page.get_by_role("link", name="acme-device")).to_be_visible()
        await expect(page.page.get_by_text("other-device")).to_have_count(0)
        await page.page.goto(f"{url}/devices/other-device")
        await expect(page.page.get_by_role("alert")).to_contain_text("device 'other-device' not found")

        await page.page.goto(f"{url}/nodes")
        await expect(page.page.get_by_role("link", name="acme-gw")).to_be_visible()
        await expect(page.page.get_by_text("other-gw")).to_have_count(0)
        await page.page.goto(f"{url}/nodes/other-gw")
        await expect(page.page.get_by_role("alert")).to_contain_text("device 'other-gw' not found")

        await page.page.goto(f"{url}/admin")
        await expect(page.page.get_by_role("heading", name="Users", exact=True).first).to_be_visible()
        await expect(page.page.get_by_role("heading", name="Tenants", exact=True)).to_have_count(0)
        users = page.page.get_by_role("table", name="Users")
        await expect(users.get_by_role("rowheader", name=TENANT_ADMIN)).to_be_visible()
        await expect(users.get_by_role("rowheader", name="admin", exact=True)).to_have_count(0)
    assert page.errors == [] and page.outside == []


def test_a_tenant_admin_made_in_the_portal_sees_only_its_tenant(
    browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client
) -> None:
    browser.run(_create_tenant_and_user(browser.browser, portal_hub.url), timeout=90)
    for device_id, tenant, kind in [
        ("acme-device", "acme", "device"),
        ("acme-gw", "acme", "gateway"),
        ("other-device", "default", "device"),
        ("other-gw", "default", "gateway"),
    ]:
        body = {"id": device_id, "name": device_id, "tenant": tenant, "kind": kind}
        assert http.post("/api/v1/devices", json=body).status_code == 201
    browser.run(_tenant_view(browser.browser, portal_hub.url), timeout=90)


async def _manage_a_user(browser: Browser, url: str) -> None:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        await page.page.goto(f"{url}/admin")
        users = page.page.get_by_role("form", name="New user")
        await users.get_by_label("Username").fill("temp-user")
        await users.get_by_label("Password").fill("temp-password-1")
        await users.get_by_role("button", name="Create user").click()
        row = (
            page.page.get_by_role("table", name="Users")
            .get_by_role("row")
            .filter(has=page.page.get_by_role("rowheader", name="temp-user", exact=True))
        )
        await expect(row.get_by_role("cell").first).to_have_text("user")
        await row.get_by_label("Role of temp-user", exact=True).select_option("admin")
        await row.get_by_role("button", name="Change role").click()
        await expect(row.get_by_role("cell").first).to_have_text("admin")

        await row.get_by_role("button", name="Reset password").click()
        await row.get_by_label("New password for temp-user", exact=True).fill("another-password-2")
        await row.get_by_role("button", name="Set password").click()
        await expect(row.get_by_role("status")).to_have_text("Password of temp-user changed; its sessions ended.")

        await row.get_by_role("button", name="Delete temp-user").click()
        await row.get_by_role("button", name="Delete", exact=True).click()
        await expect(row).to_have_count(0)
    assert page.errors == [] and page.outside == []


def test_the_admin_changes_a_role_resets_a_password_and_deletes_a_user(
    browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client
) -> None:
    browser.run(_manage_a_user(browser.browser, portal_hub.url), timeout=90)
    assert http.get("/api/v1/users/temp-user").status_code == 404


async def _sign_in_and_out(browser: Browser, url: str) -> str:
    async with offline_page(browser, url) as page:
        await page.page.goto(f"{url}/nodes")
        await expect(page.page).to_have_url(re.compile(r"/signin\?next="))
        await page.page.get_by_label("Username").fill("admin")
        await page.page.get_by_label("Password").fill("not-the-password")
        await page.page.get_by_role("button", name="Sign in").click()
        await expect(page.page.get_by_role("alert")).to_have_text("wrong username or password")

        await sign_in(page, url, "admin", ADMIN_PASSWORD)
        await page.page.reload()
        await expect(page.page.get_by_role("button", name="Sign out")).to_be_visible()
        stored = await page.page.evaluate("[localStorage.length, sessionStorage.length, document.cookie]")
        assert stored == [0, 0, ""], stored
        [cookie] = [c for c in await page.page.context.cookies() if c.get("name") == SESSION_COOKIE]
        assert cookie.get("httpOnly") is True

        await page.page.get_by_role("button", name="Sign out").click()
        await expect(page.page.get_by_role("heading", name="Sign in to Fieldhub")).to_be_visible()
        answer = await page.page.request.get(f"{url}/api/v1/auth/session")
        assert answer.status == 401
    return cookie.get("value", "")


def test_sign_in_keeps_the_session_in_an_http_only_cookie_until_sign_out(
    browser: BrowserThread, portal_hub: HubProcess
) -> None:
    token = browser.run(_sign_in_and_out(browser.browser, portal_hub.url))
    # The session is revoked at the hub, not only forgotten by the browser.
    revoked = httpx.get(f"{portal_hub.url}/api/v1/auth/session", cookies={SESSION_COOKIE: token}, timeout=20)
    assert revoked.status_code == 401

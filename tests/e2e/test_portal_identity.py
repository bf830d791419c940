"""Identity in the portal against a real hub: an API key made in the portal, shown once, working as a bearer until
revoked there; a user disabled in the portal failing to sign in; a directory user (real slapd) signing in through
the same form and listed as one; a tenant renamed, and a non-empty one's delete refused in the API's words; a
tenant's retention set, refused out of range in the API's words, and reset to the hub's default; the audit trail
listing the sign-in and the key; the sign-in page after too many failures (the hub started with a small limit) and
when the directory is away."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, Response, expect

from tests.helpers.browser import BrowserThread, offline_page
from tests.helpers.hub import ADMIN_PASSWORD
from tests.helpers.portal import ensure_portal_built, signed_in
from tests.helpers.ports import free_port
from tests.helpers.process import HubProcess, cli_env, running_hub_process
from tests.helpers.slapd import DIRECTORY_USERS, Slapd

pytestmark = pytest.mark.timeout(150)
#: Failed sign-ins of one username before it is locked out (the hub's default is 10).
MAX_FAILURES = 3
KEY_NAME = "nightly-export"
WORKER = "field-tech"
WORKER_PASSWORD = "field-tech-password-1"
#: A directory user of the session's slapd that no other test's memberships change.
DIRECTORY_USER = "lena"
DIRECTORY_TENANT = "site-a"
#: The tenant whose retention the portal sets.
RETAINED = "south"


def _ldap_env(settings: dict[str, Any]) -> dict[str, str]:
    """The hub's ``ldap`` settings as ``FIELDHUB_LDAP__*`` variables (``groups`` as JSON)."""
    return {
        f"FIELDHUB_LDAP__{name.upper()}": json.dumps(value) if isinstance(value, dict) else str(value)
        for name, value in settings.items()
    }


@pytest.fixture(scope="module")
def portal_hub(tmp_path_factory: pytest.TempPathFactory, slapd: Slapd) -> Iterator[HubProcess]:
    """This module's own hub (the shared fixture's name, so that ``http`` uses it): bound to the directory, and
    locking a username out sooner than the default."""
    ensure_portal_built()
    ldap = slapd.settings({"site-a-users": {"role": "user", "tenant": DIRECTORY_TENANT}})
    env = cli_env(FIELDHUB_LOGIN__MAX_FAILURES=str(MAX_FAILURES), **_ldap_env(ldap))
    with running_hub_process(tmp_path_factory.mktemp("identity-hub") / "data", env=env) as hub:
        yield hub


async def _create_key(browser: Browser, url: str) -> str:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        await page.page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
        await expect(page.page.get_by_role("heading", name="API keys", level=1)).to_be_visible()
        form = page.page.get_by_role("form", name="New API key")
        await form.get_by_role("button", name="Create API key").click()
        await expect(form.get_by_text("Enter a name")).to_be_visible()
        await form.get_by_label("Key name").fill(KEY_NAME)
        await form.get_by_label("Key role").select_option("user")
        await form.get_by_label("Expires after").select_option(label="90 days")
        await form.get_by_role("button", name="Create API key").click()

        shown = page.page.get_by_role("region", name="New API key, shown once")
        key = await shown.get_by_label("API key", exact=True).input_value()
        assert re.fullmatch(r"fhk_[0-9a-f]+_\S+", key), key
        await expect(shown.get_by_role("button", name="Copy API key")).to_be_visible()
        row = (
            page.page.get_by_role("table", name="API keys")
            .get_by_role("row")
            .filter(has=page.page.get_by_role("rowheader", name=KEY_NAME, exact=True))
        )
        await expect(row.get_by_role("cell").first).to_have_text("user")
        await expect(row.get_by_role("cell").nth(1)).to_have_text("admin")  # created by
        # Shown once: gone after Done, and a reload cannot bring it back.
        await shown.get_by_role("button", name="Done").click()
        await expect(shown).to_have_count(0)
        await page.page.reload()
        await expect(row).to_be_visible()
        assert key not in await page.page.content()
    assert page.errors == [] and page.outside == []
    return key


async def _revoke_key(browser: Browser, url: str) -> None:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        await page.page.goto(f"{url}/account/api-keys")
        row = (
            page.page.get_by_role("table", name="API keys")
            .get_by_role("row")
            .filter(has=page.page.get_by_role("rowheader", name=KEY_NAME, exact=True))
        )
        await expect(row.get_by_role("cell").nth(5)).not_to_have_text("never")  # last used: by the test's request
        await row.get_by_role("button", name=f"Revoke {KEY_NAME}").click()
        await row.get_by_role("button", name="Revoke key").click()
        await expect(row).to_have_count(0)
        await expect(page.page.get_by_text("No API keys.")).to_be_visible()
    assert page.errors == [] and page.outside == []


async def _audit_lists_sign_in_and_key(browser: Browser, url: str) -> None:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        await page.page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit").click()
        await expect(page.page.get_by_role("heading", name="Audit trail")).to_be_visible()
        search = page.page.get_by_role("search", name="Filter the audit trail")
        await search.get_by_label("Action").fill("api_key.")
        await search.get_by_role("button", name="Apply filters").click()
        await expect(page.page).to_have_url(re.compile(r"action=api_key\."))
        records = page.page.get_by_role("table", name="Audit records")
        created = records.get_by_role("row").filter(has_text="api_key.create")
        await expect(created).to_have_count(1)
        await expect(created.get_by_role("cell").nth(1)).to_have_text("user admin")
        await expect(created.get_by_role("cell").last).to_contain_text("ok")
        await expect(records.get_by_role("row").filter(has_text="api_key.delete")).to_have_count(1)

        # The filters are in the address: a reload keeps them; then the sign-ins.
        await page.page.reload()
        await expect(search.get_by_label("Action")).to_have_value("api_key.")
        await search.get_by_label("Action").fill("auth.sign_in")
        await search.get_by_label("Actor").fill("admin")
        await search.get_by_role("button", name="Apply filters").click()
        signed = records.get_by_role("row").filter(has_text="auth.sign_in")
        await expect(signed.first).to_be_visible()
        await expect(signed.first.get_by_role("cell").nth(4)).to_have_text("platform")  # the admin's tenant
        await expect(signed.first.get_by_role("cell").nth(5)).to_have_text("127.0.0.1")
    assert page.errors == [] and page.outside == []


def test_an_api_key_made_in_the_portal_works_once_shown_until_revoked_and_is_audited(
    browser: BrowserThread, portal_hub: HubProcess
) -> None:
    key = browser.run(_create_key(browser.browser, portal_hub.url), timeout=90)
    bearer = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=portal_hub.url, timeout=20) as client:
        assert client.get("/api/v1/devices", headers=bearer).status_code == 200
        browser.run(_revoke_key(browser.browser, portal_hub.url), timeout=90)
        assert client.get("/api/v1/devices", headers=bearer).status_code == 401
    browser.run(_audit_lists_sign_in_and_key(browser.browser, portal_hub.url), timeout=90)


async def _disable_user(browser: Browser, url: str) -> None:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        await page.page.goto(f"{url}/admin")
        users = page.page.get_by_role("table", name="Users")
        row = users.get_by_role("row").filter(has=page.page.get_by_role("rowheader", name=WORKER, exact=True))
        await expect(row.get_by_role("cell").nth(2)).to_have_text("local")  # where it comes from
        await expect(row.get_by_role("cell").nth(3)).to_have_text("enabled")
        # The platform admin cannot be disabled: no such button on its row.
        admin = users.get_by_role("row").filter(has=page.page.get_by_role("rowheader", name="admin", exact=True))
        await expect(admin.get_by_role("button", name="Disable admin")).to_have_count(0)

        await row.get_by_role("button", name=f"Disable {WORKER}").click()
        await row.get_by_role("button", name="Disable", exact=True).click()
        await expect(row.get_by_role("cell").nth(3)).to_have_text("disabled")
        await expect(row.get_by_role("status")).to_contain_text(f"{WORKER} is disabled")
        await expect(row.get_by_role("button", name=f"Enable {WORKER}")).to_be_visible()

    async with offline_page(browser, url) as page:
        await page.page.goto(f"{url}/signin")
        await page.page.get_by_label("Username").fill(WORKER)
        await page.page.get_by_label("Password").fill(WORKER_PASSWORD)
        await page.page.get_by_role("button", name="Sign in").click()
        await expect(page.page.get_by_role("alert")).to_have_text("wrong username or password")
        await expect(page.page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_a_user_disabled_in_the_portal_cannot_sign_in(
    browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client
) -> None:
    created = http.post(
        "/api/v1/users", json={"username": WORKER, "password": WORKER_PASSWORD, "role": "user", "tenant": "default"}
    )
    assert created.status_code == 201, created.text
    browser.run(_disable_user(browser.browser, portal_hub.url), timeout=90)
    assert http.get(f"/api/v1/users/{WORKER}").json()["disabled"] is True
    token = httpx.post(
        f"{portal_hub.url}/api/v1/auth/token", data={"username": WORKER, "password": WORKER_PASSWORD}, timeout=20
    )
    assert token.status_code == 401


async def _rename_and_delete(browser: Browser, url: str, refusal: str) -> None:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        await page.page.goto(f"{url}/admin")
        tenants = page.page.get_by_role("table", name="Tenants")
        row = tenants.get_by_role("row").filter(has=page.page.get_by_role("rowheader", name="north", exact=True))
        await row.get_by_role("button", name="Rename north").click()
        await row.get_by_label("New name of north").fill("North Farms")
        await row.get_by_role("button", name="Save name").click()
        await expect(row.get_by_role("cell").first).to_have_text("North Farms")
        await expect(row.get_by_role("status")).to_have_text("Tenant north is now called North Farms.")

        # The default tenant is never deleted: no button for it.
        default = tenants.get_by_role("row").filter(has=page.page.get_by_role("rowheader", name="default"))
        await expect(default.get_by_role("button", name="Delete tenant default")).to_have_count(0)
        await row.get_by_role("button", name="Delete tenant north").click()
        await row.get_by_role("button", name="Delete tenant", exact=True).click()
        await expect(row.get_by_role("alert")).to_have_text(refusal)
        await expect(row).to_be_visible()
    assert page.errors == [] and page.outside == []


def test_a_tenant_is_renamed_and_a_non_empty_one_is_not_deleted(
    browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client
) -> None:
    assert http.post("/api/v1/tenants", json={"id": "north", "name": "North"}).status_code == 201
    body = {"id": "north-sensor", "name": "North sensor", "tenant": "north"}
    assert http.post("/api/v1/devices", json=body).status_code == 201
    # What the API answers a delete of a tenant with a device left in it: the portal shows exactly this.
    refused = http.delete("/api/v1/tenants/north")
    assert refused.status_code == 409
    browser.run(_rename_and_delete(browser.browser, portal_hub.url, refused.json()["error"]["message"]), timeout=90)
    assert http.get("/api/v1/tenants/north").json()["name"] == "North Farms"


async def _telemetry_days(page: Page, url: str, tenant: str) -> int | None:
    """What the API says a tenant keeps, asked with the page's own session."""
    answer = await page.request.get(f"{url}/api/v1/tenants/{tenant}")
    assert answer.ok, await answer.text()
    days: int | None = (await answer.json())["telemetry_days"]
    return days


async def _set_retention(browser: Browser, url: str, refusal: str) -> None:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        await page.page.goto(f"{url}/admin")
        tenants = page.page.get_by_role("table", name="Tenants")
        row = tenants.get_by_role("row").filter(has=page.page.get_by_role("rowheader", name=RETAINED, exact=True))
        telemetry_kept, logs_kept = row.get_by_role("cell").nth(2), row.get_by_role("cell").nth(3)
        await expect(telemetry_kept).to_have_text("hub default")
        await expect(logs_kept).to_have_text("hub default")

        await row.get_by_role("button", name=f"Retention of {RETAINED}").click()
        days = row.get_by_label(f"Telemetry days of {RETAINED}")
        save = row.get_by_role("button", name="Save retention")
        await days.fill("30")
        await save.click()
        await expect(row.get_by_role("status")).to_have_text(
            f"Tenant {RETAINED} keeps telemetry: 30 days, logs: hub default."
        )
        await expect(telemetry_kept).to_have_text("30 days")
        await expect(logs_kept).to_have_text("hub default")
        assert await _telemetry_days(page.page, url, RETAINED) == 30

        # Out of range: the API refuses, in its words; the form stays open and nothing changes.
        await row.get_by_role("button", name=f"Retention of {RETAINED}").click()
        await days.fill("0")
        await save.click()
        await expect(row.get_by_role("alert")).to_contain_text(refusal)
        await expect(telemetry_kept).to_have_text("30 days")
        assert await _telemetry_days(page.page, url, RETAINED) == 30

        # Empty is the hub's default: the API stores null.
        await days.fill("")
        await save.click()
        await expect(row.get_by_role("status")).to_have_text(
            f"Tenant {RETAINED} keeps telemetry: hub default, logs: hub default."
        )
        await expect(row.get_by_role("alert")).to_have_count(0)
        await expect(telemetry_kept).to_have_text("hub default")
        assert await _telemetry_days(page.page, url, RETAINED) is None
    assert page.errors == [] and page.outside == []


def test_a_tenant_s_retention_is_set_refused_out_of_range_and_reset_to_the_default(
    browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client
) -> None:
    assert http.post("/api/v1/tenants", json={"id": RETAINED, "name": "South"}).status_code == 201
    # What the API answers a retention of 0 days: the portal shows exactly this.
    refused = http.patch(f"/api/v1/tenants/{RETAINED}", json={"telemetry_days": 0})
    assert refused.status_code == 422
    browser.run(_set_retention(browser.browser, portal_hub.url, refused.json()["error"]["message"]), timeout=90)
    assert http.get(f"/api/v1/tenants/{RETAINED}").json()["telemetry_days"] is None


def _session_post(response: Response) -> bool:
    """A sign-in's answer (not the page asking whether it has a session)."""
    return response.request.method == "POST" and response.url.endswith("/api/v1/auth/session")


async def _locked_out(browser: Browser, url: str) -> str:
    async with offline_page(browser, url) as page:
        await page.page.goto(f"{url}/signin")
        await page.page.get_by_label("Username").fill("guessed-user")
        await page.page.get_by_label("Password").fill("not-the-password")
        statuses: list[int] = []
        for _ in range(MAX_FAILURES + 1):
            async with page.page.expect_response(_session_post) as answer:
                await page.page.get_by_role("button", name="Sign in").click()
            statuses.append((await answer.value).status)
        assert statuses == [401] * MAX_FAILURES + [429], statuses
        alert = page.page.get_by_role("alert")
        await expect(alert).to_have_text(re.compile(r"^Too many attempts, try again in \d+ s$"))
        return await alert.inner_text()


def test_the_sign_in_page_says_how_long_to_wait_after_too_many_failures(
    browser: BrowserThread, portal_hub: HubProcess
) -> None:
    shown = browser.run(_locked_out(browser.browser, portal_hub.url), timeout=90)
    seconds = int(re.findall(r"\d+", shown)[0])
    assert 0 < seconds <= 300  # the hub's cool-down


async def _directory_user(browser: Browser, url: str) -> None:
    async with signed_in(browser, url, DIRECTORY_USER, DIRECTORY_USERS[DIRECTORY_USER]) as page:
        await expect(page.page.get_by_text(f"· user of {DIRECTORY_TENANT}")).to_be_visible()
        await page.page.get_by_role("button", name="Sign out").click()
        await expect(page.page.get_by_role("heading", name="Sign in to Fieldhub")).to_be_visible()

    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        await page.page.goto(f"{url}/admin")
        users = page.page.get_by_role("table", name="Users")
        row = users.get_by_role("row").filter(has=page.page.get_by_role("rowheader", name=DIRECTORY_USER, exact=True))
        await expect(row.get_by_role("cell").nth(1)).to_have_text(DIRECTORY_TENANT)
        await expect(row.get_by_role("cell").nth(2)).to_have_text("directory (LDAP)")
        # The directory owns its password and role: neither is offered here.
        await expect(row.get_by_text("Role, tenant and password come from the directory.")).to_be_visible()
        await expect(row.get_by_role("button", name="Reset password")).to_have_count(0)
        await expect(row.get_by_label(f"Role of {DIRECTORY_USER}")).to_have_count(0)
        await row.get_by_role("button", name=f"Disable {DIRECTORY_USER}").click()
        await row.get_by_role("button", name="Disable", exact=True).click()
        await expect(row.get_by_role("cell").nth(3)).to_have_text("disabled")
    assert page.errors == [] and page.outside == []

    async with offline_page(browser, url) as page:
        await page.page.goto(f"{url}/signin")
        await page.page.get_by_label("Username").fill(DIRECTORY_USER)
        await page.page.get_by_label("Password").fill(DIRECTORY_USERS[DIRECTORY_USER])
        await page.page.get_by_role("button", name="Sign in").click()
        await expect(page.page.get_by_role("alert")).to_have_text("wrong username or password")


def test_a_directory_user_signs_in_like_a_local_one_and_is_listed_as_from_the_directory(
    browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client
) -> None:
    assert http.post("/api/v1/tenants", json={"id": DIRECTORY_TENANT, "name": "Site A"}).status_code == 201
    browser.run(_directory_user(browser.browser, portal_hub.url), timeout=90)


async def _directory_away(browser: Browser, url: str) -> tuple[int, str, str]:
    async with offline_page(browser, url) as page:
        await page.page.goto(f"{url}/signin")
        await page.page.get_by_label("Username").fill("someone-from-the-directory")
        await page.page.get_by_label("Password").fill("their-directory-password")
        async with page.page.expect_response(_session_post) as answer:
            await page.page.get_by_role("button", name="Sign in").click()
        response = await answer.value
        error = (await response.json())["error"]
        assert error["code"] == "directory_unavailable", error
        await expect(page.page.get_by_role("alert")).to_have_text(error["message"])
        return response.status, error["message"], await page.page.get_by_role("alert").inner_text()


def test_the_sign_in_page_shows_the_api_s_words_when_the_directory_is_away(
    browser: BrowserThread, tmp_path: Path
) -> None:
    ensure_portal_built()
    # A directory nobody answers at: a name the hub does not know is asked there, and the hub answers 503.
    away = {
        "url": f"ldap://127.0.0.1:{free_port()}",
        "user_base": "ou=people,dc=fieldhub,dc=test",
        "groups": {"cn=admins,ou=groups,dc=fieldhub,dc=test": {"role": "admin", "tenant": None}},
        "timeout_s": 1,
    }
    with running_hub_process(tmp_path / "data", env=cli_env(**_ldap_env(away))) as hub:
        status, message, shown = browser.run(_directory_away(browser.browser, hub.url), timeout=60)
    assert status == 503
    assert shown == message


async def _not_an_admin(browser: Browser, url: str, username: str, password: str, refusal: str) -> None:
    async with signed_in(browser, url, username, password) as page:
        nav = page.page.get_by_role("navigation", name="Main")
        await expect(nav.get_by_role("link", name="API keys")).to_be_visible()
        await expect(nav.get_by_role("link", name="Audit")).to_have_count(0)
        await page.page.goto(f"{url}/admin/audit")
        await expect(page.page.get_by_role("alert")).to_have_text(refusal)
        await expect(page.page.get_by_role("table", name="Audit records")).to_have_count(0)
        # A key has at most its creator's role: a user's form offers no other.
        await nav.get_by_role("link", name="API keys").click()
        roles = page.page.get_by_role("form", name="New API key").get_by_label("Key role").get_by_role("option")
        await expect(roles).to_have_text(["user"])


def test_a_user_who_is_not_an_admin_sees_the_audit_refusal_and_makes_only_user_keys(
    browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client
) -> None:
    username, password = "viewer", "viewer-password-1"
    body = {"username": username, "password": password, "role": "user", "tenant": "default"}
    assert http.post("/api/v1/users", json=body).status_code == 201
    with httpx.Client(base_url=portal_hub.url, timeout=20) as client:
        token = client.post("/api/v1/auth/token", data={"username": username, "password": password}).json()
        refused = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert refused.status_code == 403
    refusal = refused.json()["error"]["message"]
    browser.run(_not_an_admin(browser.browser, portal_hub.url, username, password, refusal), timeout=90)

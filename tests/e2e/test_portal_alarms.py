"""The portal's alarm pages against a real hub, a real MQTT device and a real webhook receiver: a channel whose
secret is shown once, a profile and a rule made through the forms (and a rule the API refuses, in its words), an
alarm appearing, acknowledged and cleared live on the list, its history on its own page, a note kept there; a
channel edited (a refusal shown by its field); a platform admin's tenant picker, which a tenant's user does not get."""

from __future__ import annotations

import asyncio
import re

import httpx
import orjson
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from hub.events.signing import SIGNATURE_HEADER
from tests.helpers.browser import BrowserThread, OfflinePage
from tests.helpers.hub import ADMIN_PASSWORD
from tests.helpers.mqtt import TestDevice
from tests.helpers.portal import signed_in
from tests.helpers.process import HubProcess
from tests.helpers.receiver import receiver

pytestmark = pytest.mark.timeout(150)
#: What a notification may take to reach the receiver (the hub retries with backoff).
DELIVERY_S = 20.0


def alarm_row(page: Page, device_id: str) -> Locator:
    table = page.get_by_role("table", name="Alarms")
    return table.get_by_role("row").filter(has=page.get_by_role("link", name=device_id, exact=True))


def unexpected(page: OfflinePage, *expected: str) -> list[str]:
    """The page's refused requests but those the test asked for (``expected``: patterns of "status url")."""
    return [f for f in page.failed if not any(re.search(pattern, f) for pattern in expected)]


async def publish(device: TestDevice, temperature: float) -> None:
    payload = orjson.dumps({"values": {"temperature": temperature}})
    await asyncio.to_thread(device.publish, f"devices/{device.client_id}/telemetry", payload)


async def _make_channel(p: Page, url: str) -> None:
    await p.get_by_role("navigation", name="Main").get_by_role("link", name="Alarms").click()
    await expect(p.get_by_role("heading", name="Alarms", exact=True)).to_be_visible()
    await p.get_by_role("navigation", name="Alarm pages").get_by_role("link", name="Channels").click()
    await p.get_by_role("button", name="Create channel").click()
    form = p.get_by_role("region", name="Create a channel")
    await form.get_by_label("Name").fill("ops hook")
    await form.get_by_label("Kind").select_option("webhook")
    await form.get_by_label("URL").fill(url)
    await form.get_by_role("button", name="Create channel").click()
    secret = p.get_by_role("region", name="Secret of the new channel")
    await expect(secret).to_contain_text("Shown once")
    await expect(secret.get_by_role("button", name="Copy signing secret")).to_be_visible()
    value = await secret.get_by_label("Signing secret", exact=True).input_value()
    assert len(value) >= 16
    await secret.get_by_role("button", name="Done").click()
    await expect(secret).to_have_count(0)
    row = p.get_by_role("table", name="Channels").get_by_role("row").filter(has_text="ops hook")
    await expect(row).to_contain_text(url)
    # Told once: the list never shows it again.
    await expect(p.get_by_text(value)).to_have_count(0)
    assert value not in await p.content()


async def _make_profile(p: Page) -> None:
    await p.get_by_role("navigation", name="Main").get_by_role("link", name="Profiles").click()
    await p.get_by_role("button", name="Create profile").click()
    form = p.get_by_role("region", name="Create a profile")
    await form.get_by_label("Name", exact=True).fill("Freezer")
    await form.get_by_label("ID (optional)").fill("freezer")
    await form.get_by_role("button", name="Add key").click()
    await form.get_by_label("Key 1 name").fill("temperature")
    await form.get_by_label("Key 1 type").select_option("number")
    await form.get_by_label("Key 1 unit").fill("°C")
    await form.get_by_label("Key 1 min").fill("-60")
    await form.get_by_label("Key 1 max").fill("60")
    await form.get_by_label("Labels").fill("kind=freezer")
    await form.get_by_label("Strict").check()
    await form.get_by_role("button", name="Create profile").click()
    await expect(form).to_have_count(0)
    row = p.get_by_role("table", name="Profiles").get_by_role("row").filter(has_text="Freezer")
    await expect(row).to_contain_text("temperature (number, °C -60..60)")
    await expect(row).to_contain_text("strict")


async def _make_device(p: Page, device_id: str) -> str:
    """A device made with the profile through the devices form; its one-time password."""
    await p.get_by_role("navigation", name="Main").get_by_role("link", name="Devices").click()
    await p.get_by_role("button", name="Create device").click()
    form = p.get_by_role("region", name="Create a device")
    await form.get_by_label("Name").fill("Freezer 7")
    await form.get_by_label("ID (optional)").fill(device_id)
    await form.get_by_label("Profile").select_option("freezer")
    await form.get_by_role("button", name="Create").click()
    secret = p.get_by_role("region", name="Credentials of the new device")
    password = await secret.get_by_label("Password", exact=True).input_value()
    await p.get_by_role("link", name=f"Open device {device_id}").click()
    facts = p.locator("dl.facts")
    await expect(facts).to_contain_text("kind=freezer")  # the profile's labels
    await expect(facts.get_by_role("link", name="freezer")).to_be_visible()
    return password


async def _make_rule(p: Page) -> None:
    await p.get_by_role("navigation", name="Main").get_by_role("link", name="Alarms").click()
    await p.get_by_role("navigation", name="Alarm pages").get_by_role("link", name="Rules").click()
    await p.get_by_role("button", name="Create rule").click()
    form = p.get_by_role("region", name="Create a rule")
    await form.get_by_label("Name", exact=True).fill("Freezer too warm")
    await form.get_by_label("Devices of a profile").check()
    await form.get_by_label("Profile", exact=True).select_option("freezer")
    await form.get_by_label("Source").select_option("telemetry")
    await form.get_by_label("Kind").select_option("threshold")
    await form.get_by_label("Key", exact=True).fill("temperature")
    await form.get_by_label("Operator", exact=True).select_option(">")
    await form.get_by_label("Value", exact=True).fill("-10")
    await form.get_by_label("Back past the limit by a hysteresis").check()
    await form.get_by_label("Hysteresis", exact=True).fill("2")
    await form.get_by_label("Severity").select_option("critical")
    await form.get_by_label("ops hook (webhook)").check()
    await form.get_by_label("cleared", exact=True).check()
    # A field the template does not know: the API's refusal, in its words; the form keeps what was typed.
    await form.get_by_label("Message template").fill("{device_name} is at {value:.1f} {colour}")
    await form.get_by_role("button", name="Create rule").click()
    await expect(form.get_by_role("alert")).to_contain_text("unknown field {colour}")
    await expect(form.get_by_role("alert")).to_contain_text("device_name")
    await form.get_by_label("Message template").fill("{device_name} is at {value:.1f} {unit}")
    await form.get_by_role("button", name="Create rule").click()
    await expect(form).to_have_count(0)
    row = p.get_by_role("table", name="Rules").get_by_role("row").filter(has_text="Freezer too warm")
    await expect(row).to_contain_text("profile freezer")
    await expect(row).to_contain_text("temperature > -10")
    await expect(row).to_contain_text("clears 2 back past the limit")
    await expect(row).to_contain_text("ops hook")


async def _flow(browser: Browser, url: str, port: int, device_id: str) -> None:
    async with (
        receiver([200]) as (hook, hook_url),
        signed_in(browser, url, "admin", ADMIN_PASSWORD) as page,
    ):
        p = page.page
        await _make_channel(p, hook_url)
        await _make_profile(p)
        password = await _make_device(p, device_id)
        await _make_rule(p)

        await p.get_by_role("navigation", name="Alarm pages").get_by_role("link", name="Alarms").click()
        await expect(p.get_by_text("Live updates: on")).to_be_visible()
        await p.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
        row = alarm_row(p, device_id)
        await expect(row).to_have_count(0)
        device = await asyncio.to_thread(TestDevice(port, device_id, password).connect)
        try:
            await publish(device, -5)
            # Raised: the row appears without a reload, with its facts.
            await expect(row).to_contain_text("critical")
            await expect(row.get_by_role("cell").nth(1)).to_have_text("active")
            await expect(row).to_contain_text("Freezer too warm")
            await expect(row).to_contain_text("Freezer 7 is at -5.0 °C")
            headers, body = await asyncio.wait_for(hook.delivered.get(), DELIVERY_S)
            assert SIGNATURE_HEADER in headers and orjson.loads(body)["kind"] == "alarm.raised"
            await expect(p.get_by_role("navigation", name="Main").get_by_label("1 active")).to_be_visible()

            await row.get_by_role("button", name=f"Acknowledge Freezer too warm on {device_id}").click()
            await expect(row.get_by_role("cell").nth(1)).to_have_text("acknowledged")
            await expect(row.get_by_role("cell").nth(6)).to_have_text("admin")
            await expect(row.get_by_role("button", name=re.compile("^Acknowledge"))).to_have_count(0)

            # Under the limit but within the hysteresis: still open; then past it: cleared, live.
            await publish(device, -11)
            await publish(device, -20)
            await expect(row.get_by_role("cell").nth(1)).to_have_text("cleared")
            await expect(row.get_by_role("button", name=re.compile("^Clear"))).to_have_count(0)
            _, body = await asyncio.wait_for(hook.delivered.get(), DELIVERY_S)
            assert orjson.loads(body)["kind"] == "alarm.cleared"
            assert await p.evaluate("window.__sameDocument === true")

            await row.get_by_role("link", name="Freezer 7 is at -5.0 °C").click()
            await expect(p.get_by_role("heading", name=re.compile(r"^Alarm al-"))).to_be_visible()
            history = p.get_by_role("table", name="History").get_by_role("row")
            await expect(history).to_have_count(4)  # the header, then raised, acknowledged, cleared
            await expect(history.nth(1)).to_contain_text("active")
            await expect(history.nth(1)).to_contain_text("-5")
            await expect(history.nth(2)).to_contain_text("acknowledged")
            await expect(history.nth(2)).to_contain_text("admin")
            await expect(history.nth(3)).to_contain_text("cleared")
            await expect(history.nth(3)).to_contain_text("-20")
        finally:
            await asyncio.to_thread(device.close)

        # What rules and devices name cannot go: the API's 409, in its words.
        await p.get_by_role("navigation", name="Main").get_by_role("link", name="Profiles").click()
        await p.get_by_role("button", name="Delete Freezer").click()
        await p.get_by_role("button", name="Delete profile").click()
        await expect(p.get_by_role("table", name="Profiles").get_by_role("alert")).to_contain_text("freezer")
        await expect(p.get_by_role("table", name="Profiles")).to_contain_text("Freezer")
    assert page.errors == [] and page.outside == []
    refused_on_purpose = (r"^422 .*/api/v1/rules$", r"^409 .*/api/v1/profiles/freezer", r"^401 .*/auth/session$")
    assert unexpected(page, *refused_on_purpose) == []


def test_a_rule_made_in_the_portal_raises_an_alarm_seen_acknowledged_and_cleared_live(
    browser: BrowserThread, portal_hub: HubProcess
) -> None:
    browser.run(_flow(browser.browser, portal_hub.url, portal_hub.mqtt_port, "freezer-7"), timeout=140)


# An alarm handled on its own page: acknowledged with a note, cleared by hand after a confirmation.


async def _handle_on_its_page(browser: Browser, url: str, device_id: str) -> None:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        p = page.page
        await p.goto(f"{url}/alarms?device={device_id}")
        row = alarm_row(p, device_id)
        await expect(row.get_by_role("cell").nth(1)).to_have_text("active")
        await expect(p.get_by_role("search", name="Filter alarms").get_by_label("Device")).to_have_value(device_id)
        await row.get_by_role("link", name=re.compile("door open")).click()
        await expect(p.get_by_role("heading", name=re.compile(r"^Alarm al-"))).to_be_visible()
        await p.get_by_label("Note (optional)").fill("on my way")
        await p.get_by_role("button", name="Acknowledge", exact=True).click()
        facts = p.locator("dl.facts")
        await expect(facts).to_contain_text("by admin")
        history = p.get_by_role("table", name="History").get_by_role("row")
        await expect(history.nth(2)).to_contain_text("on my way")
        await p.get_by_role("button", name="Clear", exact=True).click()
        await p.get_by_role("group", name="Clear this alarm by hand?").get_by_role("button", name="Clear now").click()
        await expect(history).to_have_count(4)
        await expect(history.nth(3)).to_contain_text("cleared")
        await expect(facts).to_contain_text("by admin")
        await p.get_by_role("link", name="← All alarms").click()
        await p.get_by_role("search", name="Filter alarms").get_by_label("State").select_option("cleared")
        await p.get_by_role("button", name="Apply filters").click()
        await expect(p).to_have_url(re.compile(r"[?&]state=cleared"))
        await expect(alarm_row(p, device_id).get_by_role("cell").nth(1)).to_have_text("cleared")
    assert page.errors == [] and page.outside == []


def test_an_alarm_is_acknowledged_with_a_note_and_cleared_on_its_page(
    browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client
) -> None:
    device_id = "door-3"
    made = http.post("/api/v1/devices", json={"id": device_id, "name": "Door 3", "labels": {"suite": "door"}})
    assert made.status_code == 201, made.text
    rule = {
        "name": "Door open",
        "selector": {"suite": "door"},
        "key": "open",
        "kind": "threshold",
        "op": "==",
        "value": True,
        "severity": "warning",
        "message": "{device} door open",
    }
    assert http.post("/api/v1/rules", json=rule).status_code == 201
    device = TestDevice(portal_hub.mqtt_port, device_id, made.json()["credentials"]["password"]).connect()
    try:
        device.publish(f"devices/{device_id}/telemetry", orjson.dumps({"values": {"open": True}}))
    finally:
        device.close()
    browser.run(_handle_on_its_page(browser.browser, portal_hub.url, device_id), timeout=90)


# A channel edited in place: a refusal of the API shown by the field it names, then the change saved.


async def _edit_channel(browser: Browser, url: str, channel_id: str) -> None:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        p = page.page
        await p.goto(f"{url}/alarms/channels")
        await p.get_by_role("button", name="Edit pager hook").click()
        form = p.get_by_role("region", name="Edit channel pager hook")
        await expect(form.get_by_label("Kind")).to_have_value(re.compile("^webhook"))
        await expect(form.get_by_label("Kind")).to_have_attribute("readonly", "")
        await expect(form.get_by_label("URL")).to_have_value("http://127.0.0.1:9/pager")
        await form.get_by_label("URL").fill("not a url")
        await form.get_by_role("button", name="Save channel").click()
        await expect(form.get_by_role("alert")).to_contain_text("target.webhook.url")
        url_field = form.get_by_label("URL")
        await expect(url_field).to_have_attribute("aria-invalid", "true")
        await expect(url_field).to_have_accessible_description(re.compile("valid URL"))
        await expect(form.get_by_label("Name")).not_to_have_attribute("aria-invalid", "true")
        await url_field.fill("https://hooks.example.com/pager")
        await form.get_by_label("Name").fill("night pager")
        await form.get_by_label("At most a minute").fill("12")
        await form.get_by_role("button", name="Save channel").click()
        await expect(form).to_have_count(0)
        row = p.get_by_role("table", name="Channels").get_by_role("row").filter(has_text=channel_id)
        await expect(row.get_by_role("rowheader")).to_contain_text("night pager")
        await expect(row).to_contain_text("https://hooks.example.com/pager")
        await expect(row).to_contain_text("12 a minute")
    assert page.errors == [] and page.outside == []
    assert unexpected(page, rf"^422 .*/api/v1/channels/{channel_id}$", r"^401 .*/auth/session$") == []


def test_a_channel_is_edited_with_the_apis_refusal_beside_its_field(
    browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client
) -> None:
    made = http.post(
        "/api/v1/channels",
        json={"name": "pager hook", "target": {"kind": "webhook", "url": "http://127.0.0.1:9/pager"}, "enabled": False},
    )
    assert made.status_code == 201, made.text
    channel_id = made.json()["id"]
    browser.run(_edit_channel(browser.browser, portal_hub.url, channel_id), timeout=90)
    saved = http.get(f"/api/v1/channels/{channel_id}").json()
    assert saved["name"] == "night pager" and saved["rate_per_min"] == 12
    assert saved["target"] == {"kind": "webhook", "url": "https://hooks.example.com/pager"}
    assert saved["enabled"] is False  # what the form did not change stays


# A platform admin lists and acts in a tenant it picks; the choice stays in the address across the alarm pages. A
# tenant's user gets no picker and sees its own tenant's.

TENANT = "acme"
TENANT_USER = "acme-operator"
TENANT_PASSWORD = "acme-operator-pw"


async def _pick_tenant(browser: Browser, url: str) -> None:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        p = page.page
        await p.goto(f"{url}/alarms/rules")
        rules = p.get_by_role("table", name="Rules")
        await expect(rules.get_by_role("row").filter(has_text="Default pump hot")).to_have_count(1)
        await p.get_by_label("Tenant", exact=True).select_option(TENANT)
        await expect(p).to_have_url(re.compile(rf"[?&]tenant={TENANT}"))
        await expect(rules.get_by_role("row").filter(has_text="Acme pump hot")).to_have_count(1)
        await expect(rules.get_by_role("row").filter(has_text="Default pump hot")).to_have_count(0)

        # A new rule goes to the picked tenant, and offers that tenant's channels only.
        await p.get_by_role("button", name="Create rule").click()
        form = p.get_by_role("region", name="Create a rule")
        await expect(form).to_contain_text(f"In tenant {TENANT}.")
        await form.get_by_label("Name", exact=True).fill("Acme pump cold")
        await form.get_by_label("Devices with labels").check()
        await form.get_by_label("Selector labels").fill("suite=pump")
        await form.get_by_label("Key", exact=True).fill("temp")
        await form.get_by_label("Operator", exact=True).select_option("<")
        await form.get_by_label("Value", exact=True).fill("0")
        await expect(form.get_by_label("default hook (webhook)")).to_have_count(0)
        await form.get_by_label("acme hook (webhook)").check()
        await form.get_by_role("button", name="Create rule").click()
        await expect(form).to_have_count(0)
        await expect(rules.get_by_role("row").filter(has_text="Acme pump cold")).to_contain_text("acme hook")

        # The tabs keep the choice; a channel made here goes to the picked tenant.
        await p.get_by_role("navigation", name="Alarm pages").get_by_role("link", name="Channels").click()
        await expect(p.get_by_label("Tenant", exact=True)).to_have_value(TENANT)
        channels = p.get_by_role("table", name="Channels")
        await expect(channels.get_by_role("row").filter(has_text="acme hook")).to_have_count(1)
        await expect(channels.get_by_role("row").filter(has_text="default hook")).to_have_count(0)
        await p.get_by_role("button", name="Create channel").click()
        create = p.get_by_role("region", name="Create a channel")
        await expect(create).to_contain_text(f"In tenant {TENANT}.")
        await create.get_by_label("Name").fill("acme pager")
        await create.get_by_label("URL").fill("https://hooks.example.com/acme")
        await create.get_by_role("button", name="Create channel").click()
        await p.get_by_role("region", name="Secret of the new channel").get_by_role("button", name="Done").click()
        await expect(channels.get_by_role("row").filter(has_text="acme pager")).to_contain_text(f"· {TENANT}")

        await p.get_by_role("navigation", name="Alarm pages").get_by_role("link", name="Alarms").click()
        await expect(p).to_have_url(re.compile(rf"/alarms\?tenant={TENANT}$"))
        await expect(alarm_row(p, "pump-acme").get_by_role("cell").nth(1)).to_have_text("active")
        await expect(alarm_row(p, "pump-default")).to_have_count(0)
        await p.get_by_label("Tenant", exact=True).select_option("")
        await expect(alarm_row(p, "pump-default").get_by_role("cell").nth(1)).to_have_text("active")
        await expect(alarm_row(p, "pump-acme")).to_have_count(1)
    assert page.errors == [] and page.outside == []
    assert unexpected(page, r"^401 .*/auth/session$") == []


async def _tenant_user_view(browser: Browser, url: str) -> None:
    async with signed_in(browser, url, TENANT_USER, TENANT_PASSWORD) as page:
        p = page.page
        for path in ("/alarms", "/alarms/rules", "/alarms/channels"):
            await p.goto(url + path)
            await expect(p.get_by_role("heading", level=1)).to_be_visible()
            await expect(p.get_by_text("Loading…")).to_have_count(0)
            await expect(p.get_by_label("Tenant", exact=True)).to_have_count(0)
        await expect(p.get_by_role("table", name="Channels")).to_contain_text("acme hook")
        await expect(p.get_by_role("table", name="Channels")).not_to_contain_text("default hook")
        await p.goto(f"{url}/alarms")
        await expect(alarm_row(p, "pump-acme")).to_have_count(1)
        await expect(alarm_row(p, "pump-default")).to_have_count(0)
    assert page.errors == [] and page.outside == []
    assert unexpected(page, r"^401 .*/auth/session$") == []


def _raise_pump_alarm(http: httpx.Client, port: int, tenant: str, device_id: str, rule: str, channel: str) -> None:
    """A device of ``tenant`` reading over its rule's limit, and a webhook channel there (named, never sent to)."""
    query = {"tenant": tenant}
    labels = {"suite": "pump"}
    made = http.post("/api/v1/devices", json={"id": device_id, "name": device_id, "tenant": tenant, "labels": labels})
    assert made.status_code == 201, made.text
    hook = {"name": channel, "target": {"kind": "webhook", "url": "http://127.0.0.1:9/hook"}, "enabled": False}
    assert http.post("/api/v1/channels", params=query, json=hook).status_code == 201
    body = {"name": rule, "selector": {"suite": "pump"}, "key": "temp", "kind": "threshold", "op": ">", "value": 50}
    assert http.post("/api/v1/rules", params=query, json=body).status_code == 201
    device = TestDevice(port, device_id, made.json()["credentials"]["password"]).connect()
    try:
        device.publish(f"devices/{device_id}/telemetry", orjson.dumps({"values": {"temp": 60}}))
    finally:
        device.close()


def test_a_platform_admin_picks_the_tenant_of_the_alarm_pages_and_a_tenant_user_has_none(
    browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client
) -> None:
    assert http.post("/api/v1/tenants", json={"id": TENANT, "name": "Acme"}).status_code == 201
    user = {"username": TENANT_USER, "password": TENANT_PASSWORD, "role": "user", "tenant": TENANT}
    assert http.post("/api/v1/users", json=user).status_code == 201
    _raise_pump_alarm(http, portal_hub.mqtt_port, TENANT, "pump-acme", "Acme pump hot", "acme hook")
    _raise_pump_alarm(http, portal_hub.mqtt_port, "default", "pump-default", "Default pump hot", "default hook")
    browser.run(_pick_tenant(browser.browser, portal_hub.url), timeout=90)
    made = http.get("/api/v1/channels", params={"tenant": TENANT}).json()["items"]
    assert "acme pager" in {c["name"] for c in made}
    rules = http.get("/api/v1/rules", params={"tenant": TENANT}).json()["items"]
    assert "Acme pump cold" in {r["name"] for r in rules}
    browser.run(_tenant_user_view(browser.browser, portal_hub.url), timeout=60)

"""The portal's app pages against a real hub: a refused package's problems listed one by one, then the template
app downloaded from the portal, uploaded with its progress, deployed onto a real node (placement explained),
followed on its deployment page (status, events, live logs), opened through its link with the portal's session,
scaled and undeployed."""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect

from contracts.apps import MANIFEST
from hub.apps.package import PackageLimits, inspect_package
from hub.apps.problems import InvalidPackage
from tests.helpers.browser import BrowserThread, OfflinePage
from tests.helpers.hub import ADMIN_PASSWORD
from tests.helpers.portal import signed_in
from tests.helpers.process import HubProcess
from tests.helpers.waiting import wait_until
from tests.integration.test_app_platform import AgentProcess

pytestmark = pytest.mark.timeout(240)

#: Three problems at once: a name, a version and a health path the manifest's schema refuses.
BAD_MANIFEST = """\
[app]
name = "Bad_Name"
version = "one"

[runtime]
command = ["python", "main.py"]

[http]
health = "no-slash"
"""
APP = "portal-hello"
NODE = "node-a"


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _problems(package: bytes) -> list[dict[str, str]]:
    """Every problem the hub finds in ``package``, as its 422 lists them."""
    with pytest.raises(InvalidPackage) as refused:
        inspect_package(package, PackageLimits())
    return refused.value.details


def _failed(page: OfflinePage) -> list[str]:
    """The refused requests but the session check before signing in (401: nobody signed in yet)."""
    return [f for f in page.failed if not f.startswith("401 ") or not f.endswith("/api/v1/auth/session")]


def test_a_refused_package_lists_each_problem(browser: BrowserThread, portal_hub: HubProcess, tmp_path: Path) -> None:
    package = tmp_path / "bad.zip"
    package.write_bytes(_zip({MANIFEST: BAD_MANIFEST}))
    expected = _problems(package.read_bytes())
    assert len(expected) >= 3

    page = browser.run(_upload_refused(browser.browser, portal_hub.url, package, expected), timeout=90)
    assert page.errors == [] and page.outside == []
    assert _failed(page) == [f"422 {portal_hub.url}/api/v1/apps"]


async def _upload_refused(browser: Browser, url: str, package: Path, expected: list[dict[str, str]]) -> OfflinePage:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        p = page.page
        await p.get_by_role("navigation", name="Main").get_by_role("link", name="Apps").click()
        await expect(p.get_by_role("heading", name="Apps", exact=True)).to_be_visible()
        await p.get_by_label("App package (zip)").set_input_files(package)
        await p.get_by_role("button", name="Upload").click()
        await expect(p.get_by_role("heading", name="The hub refused the package")).to_be_visible()
        alert = p.get_by_role("alert")
        await expect(alert).to_contain_text(f"{len(expected)} problem(s)")
        problems = alert.get_by_role("list", name="Problems").get_by_role("listitem")
        await expect(problems).to_have_count(len(expected))
        for index, problem in enumerate(expected):
            await expect(problems.nth(index)).to_contain_text(problem["path"])
            await expect(problems.nth(index)).to_contain_text(problem["problem"])
        await expect(p.get_by_role("progressbar", name="Upload progress")).to_have_attribute("value", "100")
    return page


async def _deploy_and_open(browser: Browser, url: str, tmp: Path, http: httpx.Client) -> OfflinePage:
    async with signed_in(browser, url, "admin", ADMIN_PASSWORD) as page:
        p = page.page
        await p.goto(f"{url}/applications")
        # The template app, downloaded from the contract section, is the package.
        await p.get_by_label("Template app name").fill(APP)
        async with p.expect_download() as started:
            await p.get_by_role("link", name="Download the template app").click()
        download = await started.value
        assert download.suggested_filename == f"{APP}.zip"
        package = tmp / f"{APP}.zip"
        await download.save_as(package)
        await p.get_by_label("App package (zip)").set_input_files(package)
        await p.get_by_role("button", name="Upload").click()
        pushed = p.get_by_role("status").filter(has_text="Pushed")
        await expect(pushed).to_contain_text(f"Pushed {APP} version 0.1.0")
        await expect(p.get_by_role("progressbar", name="Upload progress")).to_have_attribute("value", "100")
        await expect(p.get_by_role("table", name="Apps").get_by_role("link", name=APP)).to_be_visible()
        await pushed.get_by_role("link", name=f"Open {APP}").click()
        await expect(p.get_by_role("heading", name=f"App {APP}")).to_be_visible()
        await expect(p.get_by_role("table", name="Versions")).to_contain_text("0.1.0")

        # The node must have said what it hosts before placement can choose it.
        beat = await asyncio.to_thread(
            wait_until, lambda: http.get(f"/api/v1/nodes/{NODE}").json().get("heartbeat"), 60
        )
        assert beat, f"no heartbeat from {NODE}"
        await p.get_by_label("Replicas").fill("1")
        await p.get_by_role("button", name="Deploy", exact=True).click()
        result = p.get_by_role("status").filter(has_text="Deployment dep-")
        await expect(result).to_contain_text("1 replica(s) on 1 node(s)")
        candidates = result.get_by_role("table", name="Candidate nodes")
        await expect(candidates.get_by_role("row").filter(has_text=NODE)).to_contain_text("chosen: rank 1 of 1")
        await result.get_by_role("link", name=re.compile(r"^Open deployment dep-")).click()

        await expect(p.get_by_role("heading", name=re.compile(r"^Deployment dep-"))).to_be_visible()
        status = p.get_by_role("region", name="Status", exact=True)
        await expect(status.get_by_text("running", exact=True)).to_be_visible(timeout=120_000)
        instances = p.get_by_role("table", name="Instances")
        await expect(instances.get_by_role("row").filter(has_text=NODE)).to_contain_text("running")
        await expect(p.get_by_role("list", name="Status timeline")).to_contain_text("running")
        logs = p.get_by_role("log", name=re.compile(r"^Logs of dep-"))
        await expect(logs).to_contain_text(f"{APP} listening on port", timeout=60_000)

        # The app's link opens with the portal's session (the template's link is not public).
        await status.get_by_role("link", name=re.compile(f"^Open {APP}")).click()
        await expect(p).to_have_url(f"{url}/apps/default/{APP}/")
        await expect(p.get_by_text("hello from Fieldhub")).to_be_visible()

        await p.go_back()
        await p.get_by_label("Replicas").fill("2")
        await p.get_by_role("button", name="Scale").click()
        await expect(instances.get_by_role("row").filter(has_text=NODE)).to_have_count(2)
        await expect(p.get_by_role("list", name=re.compile(r"^Events of dep-"))).to_contain_text("deployment.scaled")
        await p.get_by_role("button", name="Undeploy").click()
        await p.get_by_role("button", name="Undeploy for good").click()
        await expect(p.get_by_role("heading", name=f"App {APP}")).to_be_visible()
        await expect(p.get_by_role("table", name=f"Deployments of {APP}")).to_have_count(0)
    return page


def test_a_good_package_deploys_onto_a_node_and_its_link_opens(
    browser: BrowserThread, portal_hub: HubProcess, http: httpx.Client, tmp_path: Path
) -> None:
    agent = AgentProcess(tmp_path, portal_hub, http, NODE, "greenhouse-a")
    try:
        page = browser.run(_deploy_and_open(browser.browser, portal_hub.url, tmp_path, http), timeout=200)
    except BaseException:
        print(agent.log.read_text()[-3000:])
        raise
    finally:
        agent.stop()
    assert page.errors == [] and page.outside == []
    assert _failed(page) == []

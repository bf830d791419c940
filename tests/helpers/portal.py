"""The web portal in tests: built once (``make portal``, under a lock so parallel workers build it once), and a
browser page signed in through its own sign-in form."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from playwright.async_api import Browser, expect

from tests.helpers.browser import OfflinePage, offline_page

ROOT = Path(__file__).resolve().parents[2]
INDEX = ROOT / "cloud" / "portal" / "dist" / "index.html"


@contextmanager
def build_lock() -> Iterator[None]:
    """Held while the portal is built or read whole, so parallel workers never see half a build."""
    lock = ROOT / ".pytest_cache" / "portal-build.lock"
    lock.parent.mkdir(exist_ok=True)
    with lock.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def ensure_portal_built() -> Path:
    """Build the portal if it is missing or older than its sources (make decides), once across workers."""
    if shutil.which("npm") is None:
        raise RuntimeError("npm is missing: `make test-servers` installs Node.js and npm")
    with build_lock():
        done = subprocess.run(
            ["make", "-s", "portal"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
        )
    if done.returncode != 0 or not INDEX.is_file():
        raise RuntimeError(f"make portal failed:\n{done.stdout}\n{done.stderr}")
    return INDEX


async def sign_in(page: OfflinePage, url: str, username: str, password: str) -> None:
    """Sign in through the portal's form and wait for the signed-in frame."""
    await page.page.goto(f"{url}/signin")
    await page.page.get_by_label("Username").fill(username)
    await page.page.get_by_label("Password").fill(password)
    await page.page.get_by_role("button", name="Sign in").click()
    await expect(page.page.get_by_role("button", name="Sign out")).to_be_visible()


@asynccontextmanager
async def signed_in(browser: Browser, url: str, username: str, password: str) -> AsyncIterator[OfflinePage]:
    """A fresh page (no other test's cookies) on the hub alone, signed in as ``username``."""
    async with offline_page(browser, url) as page:
        await sign_in(page, url, username, password)
        yield page

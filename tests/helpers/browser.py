"""A real browser for end-to-end tests: Debian's chromium driven by Playwright, kept off every other origin.

Playwright's sync API keeps an event loop running on the thread that starts it, which would stop every
asyncio test that runs after it in the session. So the browser lives on a thread and event loop of its own
(:class:`BrowserThread`, started once per session) and tests hand it coroutines that use the async API.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from playwright.async_api import Browser, Page, Playwright, Request, Route, async_playwright

# Installed by `make test-servers` (Debian's package); `playwright install` downloads and is never run.
from cloud.bench.chromium import CHROMIUM, CHROMIUM_ARGS

T = TypeVar("T")

TIMEOUT_S = 60.0


class BrowserThread:
    """Chromium, started once, on a thread with its own event loop; :meth:`run` runs a coroutine there."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="browser", daemon=True)
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    @property
    def browser(self) -> Browser:
        assert self._browser is not None, "the browser is not started"
        return self._browser

    def start(self) -> BrowserThread:
        """Start chromium headless (about a second)."""
        if not CHROMIUM.exists():
            raise RuntimeError(f"{CHROMIUM} is missing: `make test-servers` installs Debian's chromium")
        self._thread.start()
        self.run(self._launch())
        return self

    async def _launch(self) -> None:
        self._playwright = await async_playwright().start()
        self._browser = await self._playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = TIMEOUT_S) -> T:
        """Run ``coro`` on the browser's loop and return its result (from a test's thread, sync or async)."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def close(self) -> None:
        if self._thread.is_alive():
            self.run(self._stop())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(TIMEOUT_S)
        self._loop.close()

    async def _stop(self) -> None:
        if self._browser is not None:
            await self._browser.close()
        if self._playwright is not None:
            await self._playwright.stop()


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


@dataclass
class OfflinePage:
    """A page that may load only from one origin: every request elsewhere is blocked and recorded."""

    page: Page
    outside: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@asynccontextmanager
async def offline_page(browser: Browser, origin_url: str) -> AsyncIterator[OfflinePage]:
    """A fresh context and page (no cookies or cache from other tests) that reaches ``origin_url``'s origin only.

    ``outside`` lists the requests to any other origin (each is aborted, as on a network without Internet
    access), ``failed`` the same-origin answers of 400 or more, ``errors`` the page's uncaught script errors.
    """
    origin = _origin(origin_url)
    context = await browser.new_context(service_workers="block")
    context.set_default_timeout(20_000)
    result = OfflinePage(await context.new_page())

    async def route(handler: Route, request: Request) -> None:
        if request.url.startswith(("data:", "blob:")) or _origin(request.url) == origin:
            await handler.continue_()
        else:
            result.outside.append(request.url)
            await handler.abort("internetdisconnected")

    await context.route("**/*", route)
    result.page.on("response", lambda r: r.status >= 400 and result.failed.append(f"{r.status} {r.url}"))
    result.page.on("pageerror", lambda exc: result.errors.append(str(exc)))
    try:
        yield result
    finally:
        await context.close()

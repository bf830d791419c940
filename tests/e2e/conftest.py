"""End-to-end fixtures: one real browser for the whole session, and a hub serving the built portal."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.helpers.browser import BrowserThread
from tests.helpers.portal import ensure_portal_built
from tests.helpers.process import HubProcess, logged_in, running_hub_process


@pytest.fixture(scope="session")
def browser() -> Iterator[BrowserThread]:
    started = BrowserThread().start()
    yield started
    started.close()


@pytest.fixture(scope="module")
def portal_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A real ``fieldhub up`` serving the portal (built first when missing or stale), shared by a module's tests."""
    ensure_portal_built()
    with running_hub_process(tmp_path_factory.mktemp("portal-hub") / "data") as hub:
        yield hub


@pytest.fixture
def http(portal_hub: HubProcess) -> Iterator[httpx.Client]:
    """The API of ``portal_hub`` as its admin, for setting up what a browser test then looks at."""
    with logged_in(portal_hub.url) as client:
        yield client

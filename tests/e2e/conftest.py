"""End-to-end fixtures: one real browser for the whole session, and a hub serving the built portal."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.browser import BrowserThread
from tests.helpers.portal import ensure_portal_built
from tests.helpers.process import HubProcess, running_hub_process


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

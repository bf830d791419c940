"""End-to-end fixtures: one real browser for the whole session (the hub is tests/conftest.py's ``hub_process``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.browser import BrowserThread


@pytest.fixture(scope="session")
def browser() -> Iterator[BrowserThread]:
    started = BrowserThread().start()
    yield started
    started.close()

"""Every contract suite gets ``backend``: each registered backend in turn, opened on a fresh database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.store.backend import Backend
from hub.store.factory import open_store
from tests.contract.support import BACKENDS


@pytest.fixture(params=sorted(BACKENDS))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    opened = open_store(BACKENDS[request.param](request, tmp_path))
    await opened.database.open()
    yield opened
    await opened.database.close()

"""Every contract suite gets ``backend``: each registered backend in turn, opened on a fresh database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.store.backend import Backend
from tests.contract.support import BACKENDS, opened


@pytest.fixture(params=sorted(BACKENDS))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with opened(BACKENDS[request.param](request, tmp_path)) as store:
        yield store

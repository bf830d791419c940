"""A backend's database: it answers ping, and what was stored is there after a close and an open."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.store.factory import open_store
from tests.contract.support import BACKENDS, T0, Point, by_device, with_devices

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("name", sorted(BACKENDS))
async def test_ping_and_reopen_keep_data(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = BACKENDS[name](request, tmp_path)
    first = open_store(url)
    await first.database.open()
    await first.database.ping()
    await with_devices(first, "d1")
    await first.telemetry.write_points(by_device([Point("d1", "t", T0, 1.5, None)], {"d1": T0}))
    await first.outbox.set_cursor("stream", 1)
    await first.database.close()
    second = open_store(url)
    await second.database.open()
    try:
        assert (await second.registry.get_device("d1")) is not None
        assert await second.telemetry.latest("d1") == {"t": (T0, 1.5)}
        assert await second.outbox.get_cursor("stream") == 1
        assert await second.outbox.head() == 1
    finally:
        await second.database.close()

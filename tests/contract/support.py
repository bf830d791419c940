"""What every contract suite shares: the backends under test, a clock, and small builders.

Add a backend by adding its URL factory to ``BACKENDS``: every suite in this folder then runs
against it, and nothing in a suite may know which one runs.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import pytest

from contracts.devices import Device, Tenant
from contracts.telemetry import Reading, Value
from hub.store.backend import Backend
from hub.store.factory import open_store
from hub.store.telemetry import DeviceReadings
from tests.helpers.ferretdb import FerretDB


def _sqlite(_: pytest.FixtureRequest, tmp: Path) -> str:
    return f"sqlite:///{tmp / 'contract.db'}"


def _mongodb(request: pytest.FixtureRequest, _: Path) -> str:
    """A database of the test's own on the session's FerretDB (tests/helpers/ferretdb.py)."""
    server: FerretDB = request.getfixturevalue("ferretdb")
    return f"{server.url}contract_{uuid.uuid4().hex[:12]}"


@asynccontextmanager
async def opened(url: str) -> AsyncIterator[Backend]:
    """A connection of one hub process to the store at ``url``, closed on the way out."""
    backend = open_store(url)
    await backend.database.open()
    try:
        yield backend
    finally:
        await backend.database.close()


#: Each backend's store URL for one test, from the test's request (to reach session servers) and its tmp_path.
BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], str]] = {"sqlite": _sqlite, "mongodb": _mongodb}
T0 = 1_795_000_000_000  # 2026-11-18T11:06:40Z
CREATED = datetime(2026, 11, 1, tzinfo=UTC)


class Point(NamedTuple):
    """One reading of one device, as the tests write them."""

    device_id: str
    key: str
    ts: int
    value: Value
    seq: int | None


def by_device(points: list[Point], seen: dict[str, int] | None = None) -> list[DeviceReadings]:
    """Group points into the per-device messages the store takes (in order), received as ``seen`` says.

    Without ``seen``, a device's message was received at the time of its newest point.
    """
    grouped: dict[str, list[Reading]] = {}
    for p in points:
        grouped.setdefault(p.device_id, []).append(Reading(p.key, p.ts, p.value, p.seq))
    return [
        DeviceReadings(device, "t1", (seen or {}).get(device, max(r.ts for r in readings)), readings)
        for device, readings in grouped.items()
    ]


def device(device_id: str, tenant: str = "t1", **extra: object) -> Device:
    return Device(id=device_id, name=device_id.upper(), tenant=tenant, created=CREATED, **extra)  # type: ignore[arg-type]


async def with_devices(backend: Backend, *ids: str, tenant: str = "t1") -> None:
    """Register ``ids`` in ``tenant`` (made if missing)."""
    if await backend.registry.get_tenant(tenant) is None:
        await backend.registry.create_tenant(Tenant(id=tenant, name=tenant, created=CREATED))
    for device_id in ids:
        await backend.registry.create_device(device(device_id, tenant), f"hash-of-{device_id}")

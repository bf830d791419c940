"""What every concern's copy of a store migration works with."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from contracts.devices import Device
from hub.store.backend import Backend
from hub.store.migration.progress import Progress
from hub.store.mongo.database import MongoDatabase
from hub.store.registry import DeviceQuery


@dataclass(frozen=True, slots=True)
class Run:
    """One migration run: the two stores, the target's progress, how many objects a step reads, whether to write."""

    source: Backend
    target: Backend
    target_db: MongoDatabase
    progress: Progress
    batch: int
    dry: bool


#: A concern's copy: yields how many objects each step copied (or, in a dry run, found to copy).
Copy = Callable[[Run], AsyncIterator[int]]


async def all_devices(store: Backend, batch: int) -> AsyncIterator[list[Device]]:
    """Every device of ``store``, a page of ``batch`` at a time, by id."""
    offset = 0
    while page := (await store.registry.list_devices(DeviceQuery(limit=batch, offset=offset)))[0]:
        offset += len(page)
        yield page

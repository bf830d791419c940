"""Ids of the MongoDB store's followed collections (hub/store/mongo/sequence.py): unique and rising across hub
processes, visible in rising order (a follower misses none), never given twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from hub.store.events import EventQuery, NewEvent
from hub.store.logs import LogQuery, NewLine
from hub.store.mongo.database import MongoDatabase
from hub.store.mongo.events import MongoEvents
from hub.store.mongo.logs import MongoLogs
from tests.helpers.ferretdb import FerretDB

pytestmark = pytest.mark.timeout(60)

T0 = 1_795_000_000_000
WRITES = 30


@pytest.fixture
async def processes(ferretdb: FerretDB) -> AsyncIterator[tuple[MongoDatabase, MongoDatabase]]:
    """Two hub processes' connections to one database of the test's own."""
    url = f"{ferretdb.url}sequence_{uuid.uuid4().hex[:12]}"
    first, second = MongoDatabase(url), MongoDatabase(url)
    await first.open()
    await second.open()
    yield first, second
    await second.close()
    await first.close()


def _event(i: int) -> NewEvent:
    return NewEvent(ts=T0 + i, tenant="t1", kind="node.dead", message=f"event {i}")


async def test_writers_of_two_processes_get_unique_rising_ids(processes: tuple[MongoDatabase, MongoDatabase]) -> None:
    stores = [MongoEvents(db) for db in processes]
    batches = await asyncio.gather(*(stores[i % 2].append([_event(i), _event(i)]) for i in range(WRITES)))
    ids = [event.id for batch in batches for event in batch]
    assert sorted(ids) == list(range(1, 2 * WRITES + 1))
    assert all(first.id < second.id for first, second in batches)  # a batch keeps its order
    followed = await stores[1].query(EventQuery(after=0, limit=1000))
    assert [e.id for e in followed] == list(range(1, 2 * WRITES + 1))
    assert await stores[0].last_id() == 2 * WRITES


async def test_a_follower_polling_while_two_processes_write_misses_nothing(
    processes: tuple[MongoDatabase, MongoDatabase],
) -> None:
    stores = [MongoLogs(db) for db in processes]
    done = asyncio.Event()

    async def write(store: MongoLogs, node: str) -> None:
        for i in range(WRITES):
            line = NewLine(tenant="t1", node=node, ts=T0 + i, level=20, logger="app", message=f"{node} {i}")
            await store.append([line, line])

    async def follow() -> list[int]:
        seen: list[int] = []
        while True:
            finished = done.is_set()  # read before polling: the poll after the writers end sees everything
            lines = await stores[0].search(LogQuery(after=seen[-1] if seen else 0, limit=1000))
            seen += [line.id for line in lines]
            if finished:
                return seen
            await asyncio.sleep(0)  # let the writers on

    follower = asyncio.create_task(follow())
    await asyncio.gather(write(stores[0], "n1"), write(stores[1], "n2"))
    done.set()
    assert await follower == list(range(1, 4 * WRITES + 1))


async def test_removed_ids_are_never_given_again(processes: tuple[MongoDatabase, MongoDatabase]) -> None:
    logs = MongoLogs(processes[0])
    line = NewLine(tenant="t1", node="n1", ts=T0, level=20, logger="app", message="reading")
    await logs.append([line, line])
    newest = await logs.last_id()
    await logs.delete([newest - 1, newest])
    assert await logs.last_id() == 0
    await MongoLogs(processes[1]).append([line])
    [again] = await logs.search(LogQuery())
    assert again.id == newest + 1

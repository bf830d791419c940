"""The FerretDB test server answers PyMongo's async client with the operations the MongoDB store will use."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pymongo
import pytest
from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from tests.helpers.ferretdb import FerretDB

# The first run builds FerretDB from Go (about a minute with a cold module cache); later runs start it in ~50 ms.
pytestmark = pytest.mark.timeout(120)

Document = dict[str, Any]


@pytest.fixture
async def database(ferretdb: FerretDB) -> AsyncIterator[AsyncDatabase[Document]]:
    """A database of the test's own on the session's FerretDB, dropped afterwards."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(ferretdb.url, serverSelectionTimeoutMS=5000)
    name = f"test_{uuid.uuid4().hex[:10]}"
    try:
        yield client[name]
        await client.drop_database(name)
    finally:
        await client.close()


async def test_answers_ping(database: AsyncDatabase[Document]) -> None:
    assert (await database.command("ping"))["ok"] == 1


async def test_indexes_upserts_and_group(database: AsyncDatabase[Document]) -> None:
    readings = database["readings"]
    await readings.create_index([("device", pymongo.ASCENDING), ("ts", pymongo.ASCENDING)], unique=True)
    docs = [{"device": f"dev-{i % 3}", "ts": i, "value": float(i)} for i in range(30)]
    assert len((await readings.insert_many(docs)).inserted_ids) == len(docs)

    found = await readings.find({"device": "dev-1", "ts": {"$gte": 10}}).sort("ts", pymongo.DESCENDING).to_list()
    assert [doc["ts"] for doc in found] == [28, 25, 22, 19, 16, 13, 10]

    counters = database["counters"]
    for expected in (1, 2):
        doc = await counters.find_one_and_update(
            {"_id": "dev-1"}, {"$inc": {"seen": 1}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        assert doc is not None
        assert doc["seen"] == expected

    # One accumulator per $group: FerretDB 1.24 answers 0 for every accumulator after the first.
    sums = await _group_sums(readings, "$value")
    assert sums == {"dev-0": 9.0, "dev-1": 12.0, "dev-2": 15.0}
    assert await _group_sums(readings, 1) == {"dev-0": 3, "dev-1": 3, "dev-2": 3}


async def _group_sums(readings: AsyncCollection[Document], summed: str | int) -> dict[str, float]:
    """``{"$sum": summed}`` per device over the readings before ts 9."""
    pipeline: list[Document] = [
        {"$match": {"ts": {"$lt": 9}}},
        {"$group": {"_id": "$device", "total": {"$sum": summed}}},
    ]
    cursor = await readings.aggregate(pipeline)
    return {doc["_id"]: doc["total"] for doc in await cursor.to_list()}

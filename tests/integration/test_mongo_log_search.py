"""Text search of the MongoDB log store (its ``words`` index and the check in Python) answers as SQLite's FTS5."""

from __future__ import annotations

import random
import sqlite3
import uuid
from collections.abc import AsyncIterator

import pytest

from hub.errors import InvalidInput
from hub.store.logs import LogQuery, NewLine, search_expression
from hub.store.mongo.database import MongoDatabase
from hub.store.mongo.logs import MongoLogs
from tests.helpers.ferretdb import FerretDB
from tests.unit.test_text_query import MESSAGES, SYNTAX, VOCABULARY, sqlite_answer

pytestmark = pytest.mark.timeout(120)

T0 = 1_795_000_000_000
EXPRESSIONS = 300


@pytest.fixture
async def logs(ferretdb: FerretDB) -> AsyncIterator[MongoLogs]:
    """A log store on a database of the test's own holding MESSAGES, line i at ts T0 + i."""
    db = MongoDatabase(f"{ferretdb.url}search_{uuid.uuid4().hex[:12]}")
    await db.open()
    store = MongoLogs(db)
    await store.append(
        [NewLine(tenant="t1", node="n1", ts=T0 + i, level=20, logger="app", message=m) for i, m in enumerate(MESSAGES)]
    )
    yield store
    await db.close()


async def mongo_answer(logs: MongoLogs, expression: str) -> list[int] | None:
    try:
        lines = await logs.search(LogQuery(text=expression, limit=len(MESSAGES)))
    except InvalidInput:
        return None
    return sorted(line.ts - T0 for line in lines)


async def test_random_expressions_get_fts5s_answers(logs: MongoLogs) -> None:
    fts = sqlite3.connect(":memory:")
    fts.execute("CREATE VIRTUAL TABLE t USING fts5(message)")
    fts.executemany("INSERT INTO t(rowid, message) VALUES (?, ?)", list(enumerate(MESSAGES)))
    rng = random.Random(18)
    for _ in range(EXPRESSIONS):
        expression = search_expression(" ".join(rng.choices(VOCABULARY + SYNTAX, k=rng.randint(1, 6))))
        if expression:
            assert await mongo_answer(logs, expression) == sqlite_answer(fts, expression), expression
    fts.close()


async def test_a_limit_counts_matches_not_candidates(logs: MongoLogs) -> None:
    # "a" and "c" are in lines 6 and 7, but as the phrase "c b" only in line 7: the index's candidates are more.
    newest = await logs.search(LogQuery(text='"c b" OR -message:a', limit=1))
    assert [line.ts - T0 for line in newest] == [7]

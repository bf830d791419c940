"""App logs of the MongoDB store (:class:`hub.store.logs.LogStore`).

Lines are documents of ``log_lines``, their ``_id`` claimed by inserting them (hub/store/mongo/sequence.py): ids
become visible in rising order whichever hub process wrote, so a tail (``after``) misses none, and :meth:`delete`
retires the ids it removes, so none is given twice.

Text search has no FTS5 here (FerretDB has no text index): each line keeps its message's FTS5 tokens in
``words`` (hub/store/text_query.py splits them as SQLite does), under a multikey index. A query's words become a
filter on that index which every match must pass (a word, a prefix as an anchored regex; ``OR`` an ``$or``; what
a ``NOT`` excludes is not indexed), and the lines it finds, in store order, are checked against the whole
expression in Python until ``limit`` pass, so the answers are FTS5's. The indexes of the other filters and of
each order are in hub/store/mongo/schema.py.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import fields

from pymongo import ASCENDING, DESCENDING

from hub.store.logs import LogQuery, NewLine, StoredLine, search_expression
from hub.store.mongo.database import Document, MongoDatabase, translated
from hub.store.mongo.filters import equal, time_range
from hub.store.mongo.sequence import delete_numbered, insert_numbered, newest_id
from hub.store.text_query import And, Near, Not, Nothing, Or, Phrase, Query, Term, parse, words

LOG_LINES = "log_lines"
#: A line's fields but its id, in order (those of NewLine).
_FIELDS = tuple(field.name for field in fields(StoredLine) if field.name != "id")
_NO_LINE: Document = {"_id": {"$in": []}}


def _line(doc: Document) -> StoredLine:
    return StoredLine(doc["_id"], *(doc[field] for field in _FIELDS))


def line_document(line: NewLine) -> Document:
    """The stored form of ``line`` but its ``_id``, with its message's words (also what ``fieldhub store migrate``
    writes)."""
    return {**{f: getattr(line, f) for f in _FIELDS}, "words": words(line.message)}


def _term(term: Term) -> Document:
    return {"words": {"$regex": "^" + re.escape(term.text)} if term.prefix else term.text}


def _all(parts: list[Document]) -> Document:
    return parts[0] if len(parts) == 1 else {"$and": parts}


def _necessary(query: Query) -> Document:
    """A filter on ``words`` that every line matching ``query`` passes."""
    if isinstance(query, Phrase):
        return _all([_term(term) for term in query.terms]) if query.terms else _NO_LINE
    if isinstance(query, Near):
        return _all([_necessary(phrase) for phrase in query.phrases])
    if isinstance(query, And):
        return _all([_necessary(query.left), _necessary(query.right)])
    if isinstance(query, Or):
        return {"$or": [_necessary(query.left), _necessary(query.right)]}
    if isinstance(query, Not):
        return _necessary(query.left)
    assert isinstance(query, Nothing)
    return _NO_LINE


def _order(query: LogQuery, text: bool) -> list[tuple[str, int]]:
    """Tails come in store order, oldest first; text matches and ``stored_order`` in store order; the rest by time."""
    if query.after is not None:
        return [("_id", ASCENDING)]
    direction = DESCENDING if query.descending else ASCENDING
    if text or query.stored_order:
        return [("_id", direction)]
    return [("ts", direction), ("_id", direction)]


class MongoLogs:
    """Every stored line in ``log_lines``, with its message's words."""

    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    async def append(self, lines: Sequence[NewLine]) -> None:
        if not lines:
            return
        docs = [line_document(line) for line in lines]
        await insert_numbered(self._db, LOG_LINES, docs)

    async def search(self, query: LogQuery) -> list[StoredLine]:
        expression = search_expression(query.text or "")
        text = parse(expression) if expression else None
        lines = self._db.collection(LOG_LINES)
        found = equal(tenant=query.tenant, node=query.node, deployment=query.deployment, app=query.app)
        if query.min_level > 0:
            found["level"] = {"$gte": query.min_level}
        if (ts := time_range(query.start, query.end)) is not None:
            found["ts"] = ts
        if query.after is not None:
            found["_id"] = {"$gt": query.after}
        if text is not None:
            found = _all([found, _necessary(text)]) if found else _necessary(text)
        order = _order(query, text is not None)
        async with translated():
            if text is None:
                docs = await lines.find(found, {"words": 0}).sort(order).limit(query.limit).to_list()
                return [_line(doc) for doc in docs]
            matched: list[StoredLine] = []
            async with lines.find(found).sort(order) as candidates:
                async for doc in candidates:
                    if len(matched) == query.limit:
                        break
                    if text.matches(doc["words"]):
                        matched.append(_line(doc))
            return matched

    async def last_id(self) -> int:
        return await newest_id(self._db, LOG_LINES)

    async def count(self) -> int:
        async with translated():
            return await self._db.collection(LOG_LINES).count_documents({})

    async def older_than(
        self, ts: int, limit: int, *, tenant: str | None = None, other_than: Collection[str] = ()
    ) -> list[StoredLine]:
        found: Document = {"ts": {"$lt": ts}}
        tenants: Document = {}
        if tenant is not None:
            tenants["$eq"] = tenant
        if other_than:
            tenants["$nin"] = list(other_than)
        if tenants:
            found["tenant"] = tenants
        cursor = self._db.collection(LOG_LINES).find(found, {"words": 0})
        async with translated():
            docs = await cursor.sort([("ts", ASCENDING), ("_id", ASCENDING)]).limit(limit).to_list()
        return [_line(doc) for doc in docs]

    async def beyond(self, keep: int, limit: int) -> list[StoredLine]:
        lines = self._db.collection(LOG_LINES)
        async with translated():
            # The newest ``keep`` lines by id end at the keep-th id from the top; everything from the next goes.
            cut = await lines.find({}, {"_id": 1}).sort("_id", DESCENDING).skip(keep).limit(1).to_list()
            if not cut:
                return []
            cursor = lines.find({"_id": {"$lte": cut[0]["_id"]}}, {"words": 0})
            docs = await cursor.sort("_id", ASCENDING).limit(limit).to_list()
        return [_line(doc) for doc in docs]

    async def delete(self, ids: Sequence[int]) -> None:
        if ids:
            await delete_numbered(self._db, LOG_LINES, {"_id": {"$in": list(ids)}})

"""Copying the numbered kinds (``fieldhub store migrate``): events, log lines and audit records keep their ids, so
that cursors over them (the notify cursor, live tails) stay meaningful and new ones are numbered after them. The
MongoDB adapters number these themselves (:mod:`hub.store.mongo.sequence`), so they are written as the adapters'
own documents (``event_document``, ``line_document``, ``audit_document``) with :func:`insert_kept`, which skips ids
held already and raises the sequence hint. Each is append-only: a run copies those after the last id copied."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, TypeVar

from hub.store.audit import AuditQuery, NewAuditRecord
from hub.store.events import EventQuery, NewEvent
from hub.store.logs import LogQuery, NewLine
from hub.store.migration.context import Run
from hub.store.mongo.audit import AUDIT, audit_document
from hub.store.mongo.database import Document
from hub.store.mongo.events import EVENTS, event_document
from hub.store.mongo.logs import LOG_LINES, line_document
from hub.store.mongo.sequence import insert_kept

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

N = TypeVar("N", bound="DataclassInstance")


async def events(run: Run) -> AsyncIterator[int]:
    after = await run.progress.after("events") or 0
    while page := await run.source.events.query(EventQuery(after=after, limit=run.batch)):
        after = page[-1].id
        if not run.dry:
            docs = [{"_id": e.id, **event_document(_as_new(e, NewEvent))} for e in page]
            await _insert_numbered(run, "events", EVENTS, docs)
        yield len(page)


async def logs(run: Run) -> AsyncIterator[int]:
    after = await run.progress.after("logs") or 0
    while page := await run.source.logs.search(LogQuery(after=after, limit=run.batch)):
        after = page[-1].id
        if not run.dry:
            docs = [{"_id": line.id, **line_document(_as_new(line, NewLine))} for line in page]
            await _insert_numbered(run, "logs", LOG_LINES, docs)
        yield len(page)


async def audit(run: Run) -> AsyncIterator[int]:
    """The audit trail. Its listing is newest first: the records after the last copied are gathered, then written
    oldest first (a run killed part-way resumes after the last batch written)."""
    after = await run.progress.after("audit") or 0
    newer, before = [], None
    while page := await run.source.audit.query(AuditQuery(before=before, limit=run.batch)):
        newer += [record for record in page if record.id > after]
        if page[-1].id <= after:
            break
        before = page[-1].id
    newer.reverse()
    for at in range(0, len(newer), run.batch):
        part = newer[at : at + run.batch]
        if not run.dry:
            docs = [{"_id": r.id, **audit_document(_as_new(r, NewAuditRecord))} for r in part]
            await _insert_numbered(run, "audit", AUDIT, docs)
        yield len(part)


def _as_new(record: object, new: type[N]) -> N:
    """``record`` as the ``new`` record a store appends: the same fields but its id."""
    return new(**{field.name: getattr(record, field.name) for field in dataclasses.fields(new)})


async def _insert_numbered(run: Run, concern: str, collection: str, docs: list[Document]) -> None:
    """Insert documents of a numbered kind keeping their ids (in rising order), and record them copied."""
    await insert_kept(run.target_db, collection, docs)
    await run.progress.advance(concern, docs[-1]["_id"], len(docs))

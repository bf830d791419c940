"""Free-form maps of the MongoDB store (event data, audit details) keep keys that BSON field names cannot hold."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from contracts.audit import Actor, ActorKind
from hub.store.audit import AuditQuery, NewAuditRecord
from hub.store.events import EventQuery, NewEvent
from hub.store.mongo.audit import MongoAudit
from hub.store.mongo.database import MongoDatabase
from hub.store.mongo.events import MongoEvents
from tests.helpers.ferretdb import FerretDB

pytestmark = pytest.mark.timeout(60)

T0 = 1_795_000_000_000
ODD_KEYS = {"temp.c": 21.5, "$ref": "x", "nested": {"a.b": [1, {"$c": None}]}, "": 0}


@pytest.fixture
async def db(ferretdb: FerretDB) -> AsyncIterator[MongoDatabase]:
    database = MongoDatabase(f"{ferretdb.url}free_form_{uuid.uuid4().hex[:12]}")
    await database.open()
    yield database
    await database.close()


async def test_event_data_keeps_dotted_and_dollar_keys(db: MongoDatabase) -> None:
    events = MongoEvents(db)
    [stored] = await events.append([NewEvent(ts=T0, tenant="t1", kind="node.dead", message="m", data=ODD_KEYS)])
    assert stored.data == ODD_KEYS
    assert [e.data for e in await events.query(EventQuery())] == [ODD_KEYS]


async def test_audit_details_keep_dotted_and_dollar_keys(db: MongoDatabase) -> None:
    audit = MongoAudit(db)
    record = NewAuditRecord(
        ts=T0, actor=Actor(kind=ActorKind.USER, id="alice"), action="device.patch", outcome="ok", detail=ODD_KEYS
    )
    await audit.append([record])
    assert [r.detail for r in await audit.query(AuditQuery())] == [ODD_KEYS]

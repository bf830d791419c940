"""The notification dispatcher's cursor moves into the events' named cursors: SQLite migration 22, MongoDB step 2."""

from __future__ import annotations

import sqlite3
import uuid
from contextlib import closing
from pathlib import Path

import pytest

from hub.store.events import NOTIFY_CURSOR
from hub.store.factory import open_store
from hub.store.mongo import migrations as mongo_migrations
from hub.store.mongo.database import MongoDatabase
from hub.store.sqlite import migrations
from hub.store.sqlite.backend import sqlite_backend
from tests.helpers.ferretdb import FerretDB

pytestmark = pytest.mark.timeout(30)


def _tables(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


@pytest.mark.parametrize("cursor", [41, None], ids=["saved", "never-saved"])
async def test_a_version_21_sqlite_store_keeps_its_notify_cursor_as_a_named_cursor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cursor: int | None
) -> None:
    path = tmp_path / "hub.db"
    with monkeypatch.context() as patched:
        patched.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:21])
        old = sqlite_backend(path)
        await old.database.open()
        await old.database.close()
    with closing(sqlite3.connect(path)) as conn, conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 21
        # Written as version 21 wrote it: the dispatcher's row, and the webhooks' cursor beside it.
        if cursor is not None:
            conn.execute("INSERT INTO notify_cursor(id, event) VALUES (1, ?)", (cursor,))
        conn.execute("INSERT INTO event_cursors(name, event) VALUES ('webhooks', 7)")
    store = sqlite_backend(path)
    await store.database.open()
    try:
        assert await store.events.get_cursor(NOTIFY_CURSOR) == cursor
        assert await store.events.get_cursor("webhooks") == 7
    finally:
        await store.database.close()
    assert "notify_cursor" not in _tables(path)


@pytest.mark.parametrize("cursor", [41, None], ids=["saved", "never-saved"])
async def test_a_version_1_mongodb_store_keeps_its_notify_cursor_as_a_named_cursor(
    ferretdb: FerretDB, cursor: int | None
) -> None:
    url = f"{ferretdb.url}notify_{uuid.uuid4().hex[:12]}"
    db = MongoDatabase(url)
    await db.open()
    try:
        # Back to version 1 by hand, with the dispatcher's document as version 1 kept it.
        await db.collection("_schema").update_one({"_id": "version"}, {"$set": {"version": 1}})
        if cursor is not None:
            await db.collection("notify_cursor").insert_one({"_id": "dispatcher", "event": cursor})
        await db.collection("event_cursors").insert_one({"_id": "webhooks", "event": 7})
    finally:
        await db.close()
    store = open_store(url)
    await store.database.open()
    try:
        assert await store.events.get_cursor(NOTIFY_CURSOR) == cursor
        assert await store.events.get_cursor("webhooks") == 7
        assert isinstance(store.database, MongoDatabase)
        assert "notify_cursor" not in await store.database.db.list_collection_names()
        version = await store.database.collection("_schema").find_one({"_id": "version"})
        assert version is not None and version["version"] == len(mongo_migrations.MIGRATIONS)
    finally:
        await store.database.close()

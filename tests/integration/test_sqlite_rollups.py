"""What only the SQLite adapter promises of rollups: the migration that brings them builds them from stored chunks."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from contracts.devices import Tenant
from contracts.telemetry import Value, to_epoch_ms
from hub.store.columns import Columns, ident
from hub.store.sqlite import chunks, migrations
from hub.store.sqlite.backend import sqlite_backend
from hub.store.telemetry import AggFn, AggregateQuery, RangeQuery
from tests.contract.support import CREATED, T0, device

pytestmark = pytest.mark.timeout(30)
HOUR = 3_600_000


async def test_a_version_18_database_gets_rollups_of_its_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hub.db"
    with monkeypatch.context() as patched:
        patched.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:18])
        old = sqlite_backend(path)
        await old.database.open()
        await old.database.close()
    # A tenant, and chunks, as version 18 wrote them: two overlapping ones, a string and a boolean among the numbers.
    base = T0 // HOUR * HOUR
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("INSERT INTO tenants(id, name, created) VALUES ('t1', 'T1', ?)", (to_epoch_ms(CREATED),))
        conn.execute("INSERT INTO series(id, device_id, key) VALUES (1, 'd1', 'v')")
        written: list[tuple[int, list[Value]]] = [(0, [1.0, 2.0, "x", 4.0]), (90_000, [True, 6.0])]
        for offset, values in written:
            columns = Columns()
            for value in values:
                ts = base + offset + len(columns) * 60_000  # a point a minute, in one hour
                columns.append(ts, ident(None, ts), value)
            chunks.insert(conn, 1, columns)
    store = sqlite_backend(path)
    await store.database.open()
    try:
        await store.registry.create_device(device("d1"), "hash")
        assert (await store.registry.get_tenant("t1")) == Tenant(id="t1", name="T1", created=CREATED)
        assert await store.telemetry.drop_raw("t1", base + 2 * HOUR) == 6
        assert await store.telemetry.query_range(RangeQuery("d1", "v")) == []
        hourly = RangeQuery("d1", "v")
        answers = {fn: await store.telemetry.query_aggregate(AggregateQuery(hourly, fn, HOUR)) for fn in AggFn}
        assert answers == {
            AggFn.COUNT: [(base, 6.0)],
            AggFn.SUM: [(base, 14.0)],
            AggFn.AVG: [(base, 2.8)],
            AggFn.MIN: [(base, 1.0)],
            AggFn.MAX: [(base, 6.0)],
        }
    finally:
        await store.database.close()

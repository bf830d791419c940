"""The log store's contract (lines, filters, text search, tails, retention's reads and deletes): every backend
passes it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hub.errors import InvalidInput
from hub.store.backend import Backend
from hub.store.logs import LEVELS, LogQuery, NewLine
from tests.contract.support import T0, with_devices

pytestmark = pytest.mark.timeout(30)

APP = NewLine(
    tenant="t1",
    node="n1",
    ts=T0,
    level=LEVELS["INFO"],
    logger="app",
    message="",
    app="thermo",
    version="1.0.0",
    deployment="dep-000000000001",
    instance="dep-000000000001-0",
    service="reader",
    stream="stdout",
)


def agent_line(tenant: str, node: str, ts: int, message: str, level: str = "INFO") -> NewLine:
    return NewLine(tenant=tenant, node=node, ts=ts, level=LEVELS[level], logger="edge_agent", message=message)


async def sample(backend: Backend) -> None:
    await backend.logs.append(
        [
            replace(APP, ts=T0 + 1, message="reading 21.5 from sensor air"),
            replace(APP, ts=T0 + 2, message="WARNING sensor air is slow", level=LEVELS["WARNING"]),
            replace(APP, ts=T0 + 3, message="Traceback: connection refused", level=LEVELS["ERROR"], stream="stderr"),
            replace(APP, ts=T0 + 4, node="n2", message="reading 19.0 from sensor air", instance="dep-000000000001-1"),
            replace(APP, ts=T0 + 5, deployment="dep-000000000002", app="other", message="other app connected"),
            agent_line("t1", "n1", T0 + 6, "uplink connected to hub"),
            agent_line("t2", "m1", T0 + 7, "connection refused by broker", "ERROR"),
            agent_line("", "hub", T0 + 8, "hub store slow", "WARNING"),
        ]
    )


def messages(lines: list[object]) -> list[str]:
    return [line.message for line in lines]  # type: ignore[attr-defined]


async def test_lines_come_back_with_every_field_newest_first(backend: Backend) -> None:
    await sample(backend)
    lines = await backend.logs.search(LogQuery(deployment="dep-000000000001"))
    assert [line.ts for line in lines] == [T0 + 4, T0 + 3, T0 + 2, T0 + 1]
    first = lines[-1]
    assert (first.tenant, first.node, first.level_name, first.logger, first.app, first.version) == (
        "t1",
        "n1",
        "INFO",
        "app",
        "thermo",
        "1.0.0",
    )
    assert (first.instance, first.service, first.stream) == ("dep-000000000001-0", "reader", "stdout")
    agent = (await backend.logs.search(LogQuery(node="n1", text="uplink")))[0]
    assert (agent.app, agent.deployment, agent.stream) == (None, None, None)
    oldest = await backend.logs.search(LogQuery(deployment="dep-000000000001", descending=False, limit=2))
    assert [line.ts for line in oldest] == [T0 + 1, T0 + 2]
    assert await backend.logs.count() == 8
    await backend.logs.append([agent_line("t1", "n1", T0 - 1, "late")])
    assert messages(await backend.logs.search(LogQuery(node="n1", limit=2, stored_order=True))) == [
        "late",
        "uplink connected to hub",
    ]


async def test_filters_by_tenant_node_app_level_and_time(backend: Backend) -> None:
    await sample(backend)
    search = backend.logs.search
    assert len(await search(LogQuery())) == 8
    assert len(await search(LogQuery(tenant="t1"))) == 6
    assert messages(await search(LogQuery(tenant=""))) == ["hub store slow"]
    assert messages(await search(LogQuery(tenant="t2"))) == ["connection refused by broker"]
    assert len(await search(LogQuery(node="n1"))) == 5
    assert messages(await search(LogQuery(app="other"))) == ["other app connected"]
    assert [line.ts for line in await search(LogQuery(tenant="t1", min_level=LEVELS["WARNING"]))] == [T0 + 3, T0 + 2]
    in_range = await search(LogQuery(start=T0 + 2, end=T0 + 4, descending=False))
    assert [line.ts for line in in_range] == [T0 + 2, T0 + 3]
    assert len(await search(LogQuery(limit=3))) == 3


async def test_text_search_takes_words_phrases_prefixes_and_operators(backend: Backend) -> None:
    await sample(backend)

    async def found(text: str, **filters: object) -> list[int]:
        return sorted(line.ts - T0 for line in await backend.logs.search(LogQuery(text=text, **filters)))  # type: ignore[arg-type]

    assert await found("refused") == [3, 7]
    assert await found("REFUSED", tenant="t1") == [3]
    assert await found("sensor air") == [1, 2, 4]
    assert await found('"from sensor"') == [1, 4]
    assert await found("conn*") == [3, 5, 6, 7]
    assert await found("connected NOT hub") == [5]
    assert await found("slow OR traceback") == [2, 3, 8]
    assert await found("reading", node="n2") == [4]
    assert await found("nothing-like-this") == []
    assert await found("21.5") == [1]
    assert await found("(sensor OR hub) NOT slow") == [1, 4, 6]


@pytest.mark.parametrize("text", ['"unbalanced', "AND", "sensor AND", "(a OR", "OR OR", "sensor:air"])
async def test_a_malformed_text_query_is_invalid_input_naming_the_problem(backend: Backend, text: str) -> None:
    await sample(backend)
    with pytest.raises(InvalidInput) as raised:
        await backend.logs.search(LogQuery(text=text))
    assert raised.value.message.startswith("q: ")


async def test_a_tail_reads_lines_stored_after_its_cursor_in_store_order(backend: Backend) -> None:
    await sample(backend)
    cursor = await backend.logs.last_id()
    assert cursor > 0
    assert await backend.logs.search(LogQuery(after=cursor)) == []
    await backend.logs.append([agent_line("t1", "n1", T0 - 50, "late line, refused"), replace(APP, message="new")])
    await backend.logs.append([agent_line("t1", "n1", T0 + 99, "later refused")])
    tail = await backend.logs.search(LogQuery(after=cursor, tenant="t1"))
    assert messages(tail) == ["late line, refused", "new", "later refused"]
    assert messages(await backend.logs.search(LogQuery(after=cursor, text="refused"))) == [
        "late line, refused",
        "later refused",
    ]
    assert messages(await backend.logs.search(LogQuery(after=tail[0].id, text="refused"))) == ["later refused"]


async def test_retention_reads_old_and_surplus_lines_and_deleted_ones_leave_the_index(backend: Backend) -> None:
    await sample(backend)
    old = await backend.logs.older_than(T0 + 3, 10)
    assert [line.ts for line in old] == [T0 + 1, T0 + 2]
    assert [line.ts for line in await backend.logs.older_than(T0 + 100, 3)] == [T0 + 1, T0 + 2, T0 + 3]
    surplus = await backend.logs.beyond(5, 10)
    assert [line.ts for line in surplus] == [T0 + 1, T0 + 2, T0 + 3]
    assert [line.ts for line in await backend.logs.beyond(5, 2)] == [T0 + 1, T0 + 2]
    assert await backend.logs.beyond(8, 10) == []
    await backend.logs.delete([line.id for line in surplus])
    await backend.logs.delete([line.id for line in surplus])  # again: nothing to do
    assert await backend.logs.count() == 5
    assert sorted(line.ts - T0 for line in await backend.logs.search(LogQuery(text="sensor"))) == [4]
    assert [line.ts - T0 for line in await backend.logs.search(LogQuery(text="refused"))] == [7]


async def test_deleting_a_node_deletes_its_lines(backend: Backend) -> None:
    await with_devices(backend, "n1", "n2")
    await sample(backend)
    await backend.registry.delete_device("n1")
    assert await backend.logs.search(LogQuery(node="n1")) == []
    assert await backend.logs.search(LogQuery(node="n1", text="sensor")) == []
    assert len(await backend.logs.search(LogQuery(node="n2"))) == 1

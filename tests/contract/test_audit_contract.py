"""The audit store's contract (records, their filters, paging and retention): every backend passes it."""

from __future__ import annotations

import pytest

from contracts.audit import Actor, ActorKind
from hub.store.audit import AuditQuery, NewAuditRecord
from hub.store.backend import Backend
from tests.contract.support import T0

pytestmark = pytest.mark.timeout(30)

ALICE = Actor(kind=ActorKind.USER, id="alice")
KEY = Actor(kind=ActorKind.API_KEY, id="key-1")


def _record(i: int, action: str = "device.create", **extra: object) -> NewAuditRecord:
    values: dict[str, object] = {"actor": ALICE, "outcome": "ok", "tenant": "t1", "target": f"d{i}", **extra}
    return NewAuditRecord(ts=T0 + i, action=action, **values)  # type: ignore[arg-type]


async def test_records_get_rising_ids_and_come_back_as_stored(backend: Backend) -> None:
    stored = await backend.audit.append(
        [
            _record(1, address="192.0.2.7", status=201, detail={"name": "x"}),
            _record(2, actor=None, tenant=None, target=None, outcome="unauthorized", status=401),
        ]
    )
    assert stored[0].id < stored[1].id
    assert await backend.audit.query(AuditQuery()) == list(reversed(stored))
    first = stored[0]
    assert (first.actor, first.address, first.status, first.detail) == (ALICE, "192.0.2.7", 201, {"name": "x"})
    assert stored[1].actor is None and stored[1].tenant is None
    assert await backend.audit.append([]) == []


async def test_every_filter_narrows_the_answer_and_pages_go_back_in_time(backend: Backend) -> None:
    await backend.audit.append(
        [
            _record(1),
            _record(2, action="device.delete", target="d1"),
            _record(3, action="rule.update", actor=KEY),
            _record(4, action="devices.create"),  # another family: not in "device."
            _record(5, tenant="t2", action="auth.sign_in", target="bob"),
        ]
    )

    async def targets(**query: object) -> list[str | None]:
        return [r.target for r in await backend.audit.query(AuditQuery(**query))]  # type: ignore[arg-type]

    assert await targets(tenant="t1") == ["d4", "d3", "d1", "d1"]
    assert await targets(action="device.") == ["d1", "d1"]
    assert await targets(action="device.delete") == ["d1"]
    assert await targets(action="device") == []  # a family is named with its dot
    assert await targets(actor="key-1") == ["d3"]
    assert await targets(target="d1") == ["d1", "d1"]
    assert await targets(start=T0 + 2, end=T0 + 4) == ["d3", "d1"]
    page = await backend.audit.query(AuditQuery(limit=2))
    assert [r.target for r in page] == ["bob", "d4"]
    assert await targets(before=page[-1].id, limit=2) == ["d3", "d1"]


async def test_retention_removes_records_older_than_the_cut_off(backend: Backend) -> None:
    await backend.audit.append([_record(i) for i in range(5)])
    assert await backend.audit.trim(before=T0 + 3) == 3
    assert [r.target for r in await backend.audit.query(AuditQuery())] == ["d4", "d3"]
    assert await backend.audit.trim(before=T0 + 3) == 0

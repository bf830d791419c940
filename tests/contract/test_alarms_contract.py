"""The alarm store's contract (rules, one open alarm per rule and device, transitions, history, queries, pending
conditions): every backend passes it."""

from __future__ import annotations

import asyncio

import pytest

from contracts.alarms import (
    MAX_ALARM_HISTORY,
    OPEN_STATES,
    Alarm,
    AlarmChange,
    AlarmState,
    Operator,
    Rule,
    RuleKind,
    Severity,
)
from hub.errors import Conflict
from hub.store.alarms import AlarmQuery, Pending
from hub.store.backend import Backend
from tests.contract.support import T0, with_devices

pytestmark = pytest.mark.timeout(30)

ACTIVE, ACKNOWLEDGED, CLEARED = AlarmState.ACTIVE, AlarmState.ACKNOWLEDGED, AlarmState.CLEARED


def _rule(rule_id: str, tenant: str = "t1", **extra: object) -> Rule:
    fields: dict[str, object] = {"profile": "sensor", "key": "temp", "kind": RuleKind.THRESHOLD}
    fields |= {"op": Operator.GT, "value": 30.0, **extra}
    return Rule(id=rule_id, tenant=tenant, name=rule_id, created=T0, updated=T0, **fields)


def _alarm(
    i: int, rule: str = "r1", device: str = "d1", tenant: str = "t1", severity: Severity = Severity.MAJOR
) -> Alarm:
    return Alarm(
        id=f"al-{i:012x}",
        tenant=tenant,
        rule=rule,
        rule_name=rule.upper(),
        device=device,
        key="temp",
        severity=severity,
        state=ACTIVE,
        message=f"alarm {i}",
        value=30.5,
        raised=T0 + i,
        updated=T0 + i,
        history=[AlarmChange(state=ACTIVE, ts=T0 + i, value=30.5)],
    )


async def test_rules_are_stored_whole_per_tenant_and_count_their_changes(backend: Backend) -> None:
    seen = [await backend.alarms.rules_changed()]

    async def changed() -> None:
        seen.append(await backend.alarms.rules_changed())
        assert seen[-1] not in seen[:-1], seen

    hot = _rule("hot", channels=["ch-000000000001"], for_s=60, hysteresis=1.5, severity=Severity.CRITICAL)
    await backend.alarms.add_rule(hot)
    await changed()
    await backend.alarms.add_rule(_rule("hot", tenant="t2", selector={"site": "north"}, profile=None))
    await changed()
    await backend.alarms.add_rule(_rule("cold", op=Operator.LT, value=0.0))
    await changed()
    with pytest.raises(Conflict):
        await backend.alarms.add_rule(_rule("hot"))
    assert await backend.alarms.get_rule("t1", "hot") == hot
    assert await backend.alarms.get_rule("t3", "hot") is None
    assert [r.id for r in await backend.alarms.list_rules("t1")] == ["cold", "hot"]
    assert [(r.tenant, r.id) for r in await backend.alarms.list_rules(None)] == [
        ("t1", "cold"),
        ("t1", "hot"),
        ("t2", "hot"),
    ]
    disabled = hot.model_copy(update={"enabled": False, "updated": T0 + 1})
    assert await backend.alarms.put_rule(disabled)
    await changed()
    assert await backend.alarms.get_rule("t1", "hot") == disabled
    assert not await backend.alarms.put_rule(_rule("ghost"))
    assert await backend.alarms.delete_rule("t1", "hot")
    await changed()
    assert not await backend.alarms.delete_rule("t1", "hot")
    assert await backend.alarms.get_rule("t1", "hot") is None
    assert await backend.alarms.get_rule("t2", "hot") is not None


async def test_two_processes_raising_the_same_alarm_store_one(backend: Backend) -> None:
    first, second = await asyncio.gather(backend.alarms.open_alarm(_alarm(1)), backend.alarms.open_alarm(_alarm(2)))
    assert (first is None) != (second is None)
    opened = first or second
    assert opened is not None
    assert await backend.alarms.query_alarms(AlarmQuery()) == ([opened], 1)
    assert await backend.alarms.get_alarm(opened.id, "t1") == opened
    # Another rule, device or tenant has its own.
    for other in (_alarm(3, rule="r2"), _alarm(4, device="d2"), _alarm(5, tenant="t2")):
        assert await backend.alarms.open_alarm(other) == other


async def test_transitions_compare_and_set_and_record_history(backend: Backend) -> None:
    alarm = await backend.alarms.open_alarm(_alarm(1))
    assert alarm is not None
    ack = AlarmChange(state=ACKNOWLEDGED, ts=T0 + 10, by="alice", note="on it")
    acked = await backend.alarms.transition(alarm.id, "t1", [ACTIVE], ack)
    assert acked is not None and acked.state is ACKNOWLEDGED
    assert (acked.acknowledged, acked.acknowledged_by, acked.updated) == (T0 + 10, "alice", T0 + 10)
    assert await backend.alarms.transition(alarm.id, "t1", [ACTIVE], ack) is None  # already acknowledged
    # Another tenant sees nothing to move.
    clear = AlarmChange(state=CLEARED, ts=T0 + 20, by="bob", value=20.0)
    assert await backend.alarms.transition(alarm.id, "t2", OPEN_STATES, clear) is None
    assert await backend.alarms.get_alarm(alarm.id, "t2") is None
    cleared = await backend.alarms.transition(alarm.id, None, OPEN_STATES, clear)
    assert cleared is not None and (cleared.state, cleared.cleared, cleared.cleared_by) == (CLEARED, T0 + 20, "bob")
    assert (cleared.acknowledged, cleared.acknowledged_by) == (T0 + 10, "alice")
    assert [(c.state, c.by) for c in cleared.history] == [(ACTIVE, None), (ACKNOWLEDGED, "alice"), (CLEARED, "bob")]
    assert await backend.alarms.get_alarm(alarm.id, "t1") == cleared
    late_ack = AlarmChange(state=ACKNOWLEDGED, ts=T0 + 30, by="carol")
    assert await backend.alarms.transition(alarm.id, "t1", [ACTIVE], late_ack) is None
    assert await backend.alarms.get_alarm(alarm.id, None) == cleared
    assert await backend.alarms.transition("al-ffffffffffff", None, OPEN_STATES, clear) is None

    # Once cleared, the rule may raise on the device again.
    again = await backend.alarms.open_alarm(_alarm(2))
    assert again is not None
    assert [a.id for a in await backend.alarms.open_alarms()] == [again.id]


async def test_open_alarms_are_the_active_and_acknowledged_of_every_tenant(backend: Backend) -> None:
    for alarm in (_alarm(1), _alarm(2, device="d2"), _alarm(3, tenant="t2"), _alarm(4, device="d4")):
        await backend.alarms.open_alarm(alarm)
    await backend.alarms.transition(_alarm(2).id, None, [ACTIVE], AlarmChange(state=ACKNOWLEDGED, ts=T0 + 9))
    await backend.alarms.transition(_alarm(4).id, None, OPEN_STATES, AlarmChange(state=CLEARED, ts=T0 + 9))
    opened = {a.id: a.state for a in await backend.alarms.open_alarms()}
    assert opened == {_alarm(1).id: ACTIVE, _alarm(2).id: ACKNOWLEDGED, _alarm(3).id: ACTIVE}


async def test_every_query_filter_narrows_and_pages_count_the_total(backend: Backend) -> None:
    for alarm in (
        _alarm(1),
        _alarm(2, rule="r2", severity=Severity.CRITICAL),
        _alarm(3, device="d2"),
        _alarm(4, rule="r2", device="d2", severity=Severity.INFO),
        _alarm(5, tenant="t2"),
    ):
        await backend.alarms.open_alarm(alarm)
    await backend.alarms.transition(_alarm(3).id, None, OPEN_STATES, AlarmChange(state=CLEARED, ts=T0 + 9))
    await backend.alarms.transition(_alarm(4).id, None, [ACTIVE], AlarmChange(state=ACKNOWLEDGED, ts=T0 + 9))

    async def ids(**query: object) -> tuple[list[int], int]:
        page, total = await backend.alarms.query_alarms(AlarmQuery(**query))  # type: ignore[arg-type]
        return [int(a.id[3:], 16) for a in page], total

    assert await ids() == ([5, 4, 3, 2, 1], 5)  # newest raised first
    assert await ids(tenant="t1") == ([4, 3, 2, 1], 4)
    assert await ids(states=(CLEARED,)) == ([3], 1)
    assert await ids(states=OPEN_STATES, tenant="t1") == ([4, 2, 1], 3)
    assert await ids(severities=(Severity.CRITICAL, Severity.INFO)) == ([4, 2], 2)
    assert await ids(device="d2") == ([4, 3], 2)
    assert await ids(rule="r2") == ([4, 2], 2)
    assert await ids(rule="r2", device="d1") == ([2], 1)
    assert await ids(start=T0 + 2, end=T0 + 4) == ([3, 2], 2)
    assert await ids(tenant="t3") == ([], 0)
    assert await ids(limit=2) == ([5, 4], 5)
    assert await ids(limit=2, offset=2) == ([3, 2], 5)
    assert await ids(offset=10) == ([], 5)


async def test_history_keeps_the_first_and_the_newest_entries(backend: Backend) -> None:
    alarm = _alarm(1)
    long = [AlarmChange(state=ACTIVE, ts=T0 + i, value=float(i)) for i in range(MAX_ALARM_HISTORY + 10)]
    opened = await backend.alarms.open_alarm(alarm.model_copy(update={"history": long}))
    assert opened is not None and opened.history == [long[0], *long[-(MAX_ALARM_HISTORY - 1) :]]
    # A value update in place (active to active) adds one entry; the oldest after the first goes.
    update = AlarmChange(state=ACTIVE, ts=T0 + 100, value=99.0)
    moved = await backend.alarms.transition(alarm.id, "t1", [ACTIVE], update)
    assert moved is not None and len(moved.history) == MAX_ALARM_HISTORY
    assert moved.history == [long[0], *long[-(MAX_ALARM_HISTORY - 2) :], update]
    assert await backend.alarms.get_alarm(alarm.id, "t1") == moved


async def test_trim_removes_only_alarms_cleared_before_the_cutoff(backend: Backend) -> None:
    for alarm in (_alarm(1), _alarm(2, device="d2"), _alarm(3, device="d3")):
        await backend.alarms.open_alarm(alarm)
    await backend.alarms.transition(_alarm(1).id, None, OPEN_STATES, AlarmChange(state=CLEARED, ts=T0 + 100))
    await backend.alarms.transition(_alarm(2).id, None, OPEN_STATES, AlarmChange(state=CLEARED, ts=T0 + 200))
    assert await backend.alarms.trim_alarms(T0 + 200) == 1
    page, _ = await backend.alarms.query_alarms(AlarmQuery())
    assert [a.id for a in page] == [_alarm(3).id, _alarm(2).id]
    assert await backend.alarms.trim_alarms(T0 + 1000) == 1  # the open alarm stays, however old
    assert [a.id for a in await backend.alarms.open_alarms()] == [_alarm(3).id]


async def test_pending_conditions_start_move_and_end(backend: Backend) -> None:
    await with_devices(backend, "d1", "d2")
    assert await backend.alarms.pending() == []
    await backend.alarms.set_pending([], [])
    await backend.alarms.set_pending(
        [Pending("t1", "r1", "d1", T0), Pending("t1", "r1", "d2", T0 + 1), Pending("t1", "r2", "d1", T0 + 2)], []
    )
    await backend.alarms.set_pending([Pending("t1", "r1", "d1", T0 + 5)], [("t1", "r2", "d1"), ("t1", "r9", "d9")])
    assert sorted(await backend.alarms.pending(), key=lambda p: (p.rule, p.device)) == [
        Pending("t1", "r1", "d1", T0 + 5),
        Pending("t1", "r1", "d2", T0 + 1),
    ]
    # A deleted rule's conditions go with it; a deleted device's go with it, its alarms stay.
    await backend.alarms.add_rule(_rule("r1"))
    await backend.alarms.set_pending([Pending("t1", "r3", "d2", T0)], [])
    await backend.alarms.open_alarm(_alarm(1, rule="r3", device="d2"))
    assert await backend.alarms.delete_rule("t1", "r1")
    assert await backend.alarms.pending() == [Pending("t1", "r3", "d2", T0)]
    assert await backend.registry.delete_device("d2")
    assert await backend.alarms.pending() == []
    assert await backend.alarms.get_alarm(_alarm(1).id, "t1") is not None

"""Deployment schedules: the contract's checks, the hub's checks, and when each step is due, on an injected clock."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.schedules import (
    AtSchedule,
    CronSchedule,
    DeploymentSchedule,
    NowSchedule,
    WindowSchedule,
    parse_schedule,
)
from contracts.schemas import json_schema
from hub.deploy.schedules import (
    START_TOLERANCE_MS,
    Plan,
    Scheduler,
    Step,
    check,
    iso,
    last_fire,
    next_fire,
    plan,
)
from hub.errors import InvalidDocument
from hub.store.apps import AppStore, AppVersionRecord, DeploymentRecord, DeploymentStatus, Transition
from hub.store.factory import open_store

pytestmark = pytest.mark.timeout(30)

T0 = 1_795_000_000_000  # 2026-11-18T11:06:40Z
S = DeploymentStatus


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def schedule_of(body: dict[str, Any]) -> Any:
    return DeploymentSchedule.model_validate(body).root


# --- the contract -----------------------------------------------------------------------------------------------


def test_the_four_kinds_parse_and_now_is_the_default() -> None:
    assert parse_schedule(None) == NowSchedule()
    assert isinstance(schedule_of({"kind": "now"}), NowSchedule)
    start = schedule_of({"kind": "at", "start": "2026-11-22T10:00:00+01:00"})
    assert isinstance(start, AtSchedule) and start.start == datetime(2026, 11, 22, 9, tzinfo=UTC)
    window = schedule_of({"kind": "window", "start": "2026-11-22T10:00:00Z", "end": "2026-11-22T11:00:00Z"})
    assert isinstance(window, WindowSchedule)
    cron = schedule_of({"kind": "cron", "cron": "*/5 * * * *", "duration_s": 60})
    assert isinstance(cron, CronSchedule) and cron.timezone == "UTC"
    assert parse_schedule(cron.model_dump_json()) == cron
    assert json_schema("deployment-schedule")["$id"].endswith("deployment-schedule.json")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"kind": "window", "start": "2026-11-22T11:00:00Z", "end": "2026-11-22T10:00:00Z"}, "end must be after"),
        ({"kind": "window", "start": "2026-11-22T11:00:00Z", "end": "2026-11-22T11:00:00Z"}, "end must be after"),
        ({"kind": "at", "start": "2026-11-22T10:00:00"}, "timezone"),  # RFC 3339 needs a zone
        ({"kind": "at", "start": "tomorrow"}, "datetime"),
        ({"kind": "cron", "cron": "* * * *", "duration_s": 60}, "5 fields"),
        ({"kind": "cron", "cron": "* * * * * * *", "duration_s": 60}, "not 7"),
        ({"kind": "cron", "cron": "* * * * *", "duration_s": 0}, "greater than or equal to 1"),
        ({"kind": "cron", "cron": "* * * * *"}, "duration_s"),
        ({"kind": "cron", "cron": "* * * * *", "duration_s": 5, "timezone": "../etc/passwd"}, "pattern"),
        ({"kind": "sometimes"}, "kind"),
        ({"kind": "at", "start": "2026-11-22T10:00:00Z", "end": "2026-11-22T11:00:00Z"}, "Extra inputs"),
    ],
)
def test_the_contract_refuses_what_a_schedule_cannot_say(body: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        schedule_of(body)


# --- the hub's checks -------------------------------------------------------------------------------------------


def test_a_start_in_the_past_is_refused_beyond_the_tolerance() -> None:
    late = AtSchedule(kind="at", start=datetime.fromtimestamp((T0 - START_TOLERANCE_MS - 1000) / 1000, UTC))
    with pytest.raises(InvalidDocument, match=r"schedule.start: start .* is in the past") as refused:
        check(late, T0)
    assert refused.value.details == [{"loc": ["body", "schedule", "start"], "msg": refused.value.message[16:]}]
    check(AtSchedule(kind="at", start=datetime.fromtimestamp((T0 - 30_000) / 1000, UTC)), T0)  # within tolerance
    window = WindowSchedule(
        kind="window",
        start=datetime.fromtimestamp((T0 - 120_000) / 1000, UTC),
        end=datetime.fromtimestamp((T0 - 60_000) / 1000, UTC),
    )
    with pytest.raises(InvalidDocument) as both:
        check(window, T0)
    assert [d["loc"][-1] for d in both.value.details] == ["start", "end"]


@pytest.mark.parametrize(
    ("cron", "timezone", "problem"),
    [
        ("61 * * * *", "UTC", "schedule.cron: bad cron expression '61 \\* \\* \\* \\*': bad minute"),
        ("* * 31 2 *", "UTC", "bad day-of-month"),
        ("* * * * 8", "UTC", "bad day-of-week"),
        ("*/5 * * * *", "Mars/Olympus_Mons", "schedule.timezone: unknown time zone 'Mars/Olympus_Mons'"),
    ],
)
def test_the_hub_names_a_bad_expression_or_zone(cron: str, timezone: str, problem: str) -> None:
    with pytest.raises(InvalidDocument, match=problem):
        check(CronSchedule(kind="cron", cron=cron, duration_s=60, timezone=timezone), T0)


def test_five_and_six_field_expressions_in_a_time_zone() -> None:
    every_10s = CronSchedule(kind="cron", cron="*/10 * * * * *", duration_s=5)
    check(every_10s, T0)
    assert next_fire(every_10s, T0) == T0  # 11:06:40 is named: at or after
    assert next_fire(every_10s, T0 + 1) == T0 + 10_000
    assert last_fire(every_10s, T0 + 9_999) == T0
    assert last_fire(every_10s, T0 - 1) == T0 - 10_000
    # 08:00 in Riga is 06:00 UTC in November (EET, +02:00).
    riga = CronSchedule(kind="cron", cron="0 8 * * *", duration_s=3600, timezone="Europe/Riga")
    assert iso(next_fire(riga, T0) or 0) == "2026-11-19T06:00:00Z"
    # ... and 05:00 UTC in July (EEST, +03:00).
    assert iso(next_fire(riga, at("2026-07-01T00:00:00+00:00")) or 0) == "2026-07-01T05:00:00Z"


# --- when each step is due --------------------------------------------------------------------------------------


def record(schedule: Any, status: DeploymentStatus, *timeline: tuple[int, DeploymentStatus], created: int = T0) -> Any:
    entries = tuple(Transition(ts, s, "") for ts, s in timeline) or (Transition(created, S.SCHEDULED, "created"),)
    return DeploymentRecord(
        id="dep-000000000001",
        tenant="t1",
        app="climate",
        version="0.1.0",
        replicas=1,
        status=status,
        created=created,
        updated=entries[-1].ts,
        schedule=schedule.model_dump_json(),
        timeline=entries,
    )


def window(start: int, end: int) -> WindowSchedule:
    return WindowSchedule(
        kind="window", start=datetime.fromtimestamp(start / 1000, UTC), end=datetime.fromtimestamp(end / 1000, UTC)
    )


def test_a_window_waits_starts_and_ends_on_time() -> None:
    w = window(T0 + 60_000, T0 + 120_000)
    waiting = record(w, S.SCHEDULED)
    assert plan(waiting, T0) == Plan(T0 + 60_000, T0 + 60_000)
    started = plan(waiting, T0 + 60_000)
    assert (started.step, started.next_start) == (Step.START, T0 + 60_000)
    assert started.reason == "schedule: window 2026-11-18T11:07:40Z to 2026-11-18T11:08:40Z began"
    running = record(w, S.RUNNING, (T0, S.SCHEDULED), (T0 + 60_000, S.DEPLOYING), (T0 + 61_000, S.RUNNING))
    assert plan(running, T0 + 90_000) == Plan(None, T0 + 120_000)
    ended = plan(running, T0 + 120_000)
    assert (ended.step, ended.status) == (Step.END, S.COMPLETED)
    assert plan(dataclasses.replace(running, status=S.COMPLETED), T0 + 200_000) == Plan(None, None)


def test_a_missed_window_start_runs_for_the_rest_or_is_recorded_missed() -> None:
    w = window(T0 + 60_000, T0 + 120_000)
    waiting = record(w, S.SCHEDULED)
    late = plan(waiting, T0 + 100_000)  # the hub came back inside the window
    assert late.step is Step.START and "40 s late" in late.reason
    gone = plan(waiting, T0 + 120_000)  # ... or after it
    assert (gone.step, gone.status) == (Step.RECORD, S.COMPLETED)
    assert gone.reason.startswith("missed: the window 2026-11-18T11:07:40Z to 2026-11-18T11:08:40Z passed")
    # A run whose end passed while no hub ran ends at once.
    pending = record(w, S.PENDING, (T0, S.SCHEDULED), (T0 + 60_000, S.PENDING))
    over = plan(pending, T0 + 500_000)
    assert (over.step, over.status) == (Step.END, S.COMPLETED) and "380 s late" in over.reason


def test_an_at_schedule_starts_even_late_and_never_ends() -> None:
    start = AtSchedule(kind="at", start=datetime.fromtimestamp((T0 + 5_000) / 1000, UTC))
    assert plan(record(start, S.SCHEDULED), T0) == Plan(T0 + 5_000, T0 + 5_000)
    assert plan(record(start, S.SCHEDULED), T0 + 86_400_000).step is Step.START
    running = record(start, S.RUNNING, (T0, S.SCHEDULED), (T0 + 5_000, S.DEPLOYING), (T0 + 6_000, S.RUNNING))
    assert plan(running, T0 + 86_400_000) == Plan(None, None)


def test_a_deployment_without_schedule_is_not_the_schedulers() -> None:
    now = dataclasses.replace(record(NowSchedule(), S.RUNNING), schedule=None)
    assert plan(now, T0) == Plan(None, None)


EVERY_10S = CronSchedule(kind="cron", cron="*/10 * * * * *", duration_s=4)


def test_a_cron_schedule_runs_from_each_named_time_for_its_duration() -> None:
    created = T0 + 1_000  # the first run is the first time named at or after creation: T0 + 10 s
    waiting = record(EVERY_10S, S.SCHEDULED, created=created)
    assert plan(waiting, created) == Plan(T0 + 10_000, T0 + 10_000)
    assert plan(waiting, T0 + 10_000).step is Step.START
    began = T0 + 10_050  # the scheduler stamps the start with the time it decided on it
    running = record(EVERY_10S, S.RUNNING, (created, S.SCHEDULED), (began, S.DEPLOYING), (began + 500, S.RUNNING))
    assert plan(running, T0 + 12_000) == Plan(T0 + 20_000, T0 + 14_000)
    ended = plan(running, T0 + 14_000)
    assert (ended.step, ended.status) == (Step.END, S.SCHEDULED)
    assert ended.reason.endswith("ended; next start 2026-11-18T11:07:00Z")
    again = record(
        EVERY_10S,
        S.SCHEDULED,
        (created, S.SCHEDULED),
        (began, S.DEPLOYING),
        (T0 + 14_000, S.SCHEDULED),
    )
    assert plan(again, T0 + 14_000) == Plan(T0 + 20_000, T0 + 20_000)


def test_cron_runs_never_overlap() -> None:
    long_runs = CronSchedule(kind="cron", cron="*/10 * * * * *", duration_s=25)
    began = T0 + 10
    running = record(long_runs, S.RUNNING, (T0 - 1, S.SCHEDULED), (began, S.DEPLOYING), (began + 1, S.RUNNING))
    # The times named at T0 + 10 s and T0 + 20 s fall inside the run: the next run starts at T0 + 30 s.
    assert plan(running, T0 + 20_000) == Plan(T0 + 30_000, T0 + 25_000)


def test_missed_cron_runs_are_recorded_and_an_open_one_starts_for_the_rest() -> None:
    waiting = record(EVERY_10S, S.SCHEDULED, created=T0 - 1)
    # The hub was down from before T0 to T0 + 62 s: runs at T0 ... T0 + 60 s; the last one is still open.
    resumed = plan(waiting, T0 + 62_000)
    assert (resumed.step, resumed.next_start) == (Step.START, T0 + 60_000)
    assert (
        resumed.missed == "missed: 6 cron run(s) from 2026-11-18T11:06:40Z to 2026-11-18T11:07:30Z, no hub was running"
    )
    # Down until T0 + 65 s: the run at T0 + 60 s is over too, so all seven are missed; the next start is T0 + 70 s.
    skipped = plan(waiting, T0 + 65_000)
    assert (skipped.step, skipped.status) == (Step.RECORD, S.SCHEDULED)
    assert skipped.reason.startswith("missed: 7 cron run(s) from 2026-11-18T11:06:40Z to 2026-11-18T11:07:40Z")
    recorded = record(EVERY_10S, S.SCHEDULED, (T0 - 1, S.SCHEDULED), (T0 + 65_000, S.SCHEDULED))
    assert plan(recorded, T0 + 65_000) == Plan(T0 + 70_000, T0 + 70_000)


# --- the scheduler on an injected clock -------------------------------------------------------------------------


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AppStore]:
    """The real apps store (SQLite), with the version the tests' deployments run."""
    backend = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    await backend.database.open()
    version = AppVersionRecord("t1", "climate", "0.1.0", "ab" * 32, 1, "{}", T0, "admin")
    await backend.apps.add_version(version)
    yield backend.apps
    await backend.database.close()


async def stored(store: AppStore, deployment: DeploymentRecord) -> str:
    """Store ``deployment`` as created at ``deployment.created``; its id."""
    await store.create_deployment(deployment, "created")
    return deployment.id


class RunsOnStore:
    """Deployments' start and end of a run, reduced to their status changes (placement is not this test's)."""

    def __init__(self, store: AppStore) -> None:
        self.store = store
        self.runs: list[tuple[str, int]] = []

    async def start_run(self, deployment_id: str, reason: str, ts: int) -> None:
        await asyncio.sleep(0)
        change = Transition(ts, S.DEPLOYING, reason)
        await self.store.update_status(deployment_id, change, expected=S.SCHEDULED)
        self.runs.append(("start", ts))

    async def end_run(self, deployment_id: str, change: Transition, *, expected: DeploymentStatus) -> None:
        await self.store.update_status(deployment_id, change, expected=expected)
        self.runs.append(("end", change.ts))


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def scheduler(store: AppStore, runs: RunsOnStore, clock: Clock) -> Scheduler:
    return Scheduler(runs, store, clock)  # type: ignore[arg-type]


async def settle(hub: Scheduler, clock: Clock) -> int | None:
    """Tick as the loop does while steps are due now (after a step it looks again at once); the next due time."""
    for _ in range(5):
        due = await hub.tick()
        if due is None or due > clock.now:
            return due
    raise AssertionError("the scheduler kept finding steps due")


async def test_the_scheduler_runs_a_cron_schedule_twice_at_its_due_times(store: AppStore) -> None:
    clock = Clock(T0 + 1_000)
    runs = RunsOnStore(store)
    ident = await stored(store, record(EVERY_10S, S.SCHEDULED, created=clock.now))
    hub = scheduler(store, runs, clock)
    seen = []
    for _ in range(5):
        due = await settle(hub, clock)
        assert due is not None
        seen.append(due - T0)
        clock.now = due
    assert seen == [10_000, 14_000, 20_000, 24_000, 30_000]
    assert runs.runs == [("start", T0 + 10_000), ("end", T0 + 14_000), ("start", T0 + 20_000), ("end", T0 + 24_000)]
    statuses = [t.status for t in (await _get(store, ident)).timeline]
    assert statuses == [S.SCHEDULED, S.DEPLOYING, S.SCHEDULED, S.DEPLOYING, S.SCHEDULED]


async def test_two_hub_processes_start_a_run_once(store: AppStore) -> None:
    clock = Clock(T0 + 10_000)
    runs = RunsOnStore(store)
    await stored(store, record(EVERY_10S, S.SCHEDULED, created=T0 + 1))
    await asyncio.gather(scheduler(store, runs, clock).tick(), scheduler(store, runs, clock).tick())
    assert runs.runs == [("start", T0 + 10_000)]


async def test_the_scheduler_records_a_missed_start_then_starts_the_open_run(store: AppStore) -> None:
    clock = Clock(T0 + 62_000)
    runs = RunsOnStore(store)
    ident = await stored(store, record(EVERY_10S, S.SCHEDULED, created=T0 - 1))
    assert await scheduler(store, runs, clock).tick() == T0 + 62_000  # look again at once
    timeline = (await _get(store, ident)).timeline
    assert [t.status for t in timeline] == [S.SCHEDULED, S.SCHEDULED, S.DEPLOYING]
    assert timeline[1].reason.startswith("missed: 6 cron run(s)")
    assert await scheduler(store, runs, clock).tick() == T0 + 64_000  # the open run ends on time


async def _get(store: AppStore, ident: str) -> DeploymentRecord:
    found = await store.get_deployment(ident)
    assert found is not None
    return found

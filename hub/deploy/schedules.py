"""Scheduled deployments: started at their schedule's start, stopped at its end, by a loop in the hub process.

A deployment with a schedule other than ``now`` is stored ``scheduled`` (:meth:`Scheduler.create`). Everything
the scheduler needs is in the store, so schedules survive a restart and any hub process may act on them: what
to do next follows from the schedule, the status and the timeline alone (:func:`plan`, a pure function of them
and the time), never from memory.

- At a run's start the deployment is placed (:meth:`Deployments.start_run`): ``deploying``, or ``pending`` when no
  node qualifies (placed when one does), then ``running`` as its nodes report.
- At a run's end (a window's ``end``; a cron run's start plus ``duration_s``; an ``at`` schedule has none) its
  instances are dropped from the nodes' desired sets (:meth:`Deployments.end_run`) and it is ``completed``, or,
  for a cron schedule, ``scheduled`` again for the next time its expression names.
- Runs of a cron schedule never overlap: a time the expression names while a run is on is skipped, and the next
  run starts at the first time named at or after the previous run's end. A cron schedule's first run is the
  first time named at or after the deployment's creation.
- A start missed while no hub was running: if the run is still open (before the window's end, or within
  ``duration_s`` of the cron time) it starts at once for the rest of it; otherwise it is skipped, recorded on
  the timeline with a reason starting ``missed:`` (a window becomes ``completed``, a cron schedule waits for its
  next time). An ``at`` schedule has no end, so a late one always starts. A run whose end passed while no hub
  was running is ended at once.

Every transition is appended to the timeline with its reason. Two hub processes on one store race for each
step with the conditional status change (``expected=``): only one starts a run; the other gets
:class:`StaleStatus` and reads again. (A ``missed:`` entry leaves the status as it was, so in a rare race both
processes may record the same miss.)

A leader that dies or steps down within a step leaves it to the next one, which finishes it from the store and
never takes it twice: a start cut short after its status change leaves the deployment ``deploying`` without
instances, and the next leader's sweep places it (:meth:`Deployments.sweep`) and records the start's event,
which the scheduler records only once the instances are written; an end cut short leaves the instances listed,
and they leave the nodes at the start of the next term (:meth:`Deployments.take_over`). A run whose end passed
meanwhile is ended at the scheduler's first look, placed or not.

How a cron schedule finds its place again from the timeline: the entry after the last ``scheduled`` one starts
the current run; the run it started is the latest time named at or before that entry's time (the scheduler
stamps a start with the time it decided on it), and that run ends ``duration_s`` later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from contracts.events import EventKind
from contracts.schedules import AtSchedule, CronSchedule, NowSchedule, WindowSchedule, parse_schedule
from hub.clock import now_ms
from hub.deploy.deployments import Deployments
from hub.deploy.desired import ACTIVE
from hub.errors import InvalidDocument, NotFound
from hub.events.service import Events
from hub.store.apps import AppStore, DeploymentQuery, DeploymentRecord, DeploymentStatus, StaleStatus, Transition

log = logging.getLogger(__name__)

AnySchedule = NowSchedule | AtSchedule | WindowSchedule | CronSchedule
#: Statuses of a deployment in a run (placed or waiting for a node).
IN_RUN = (DeploymentStatus.PENDING, *ACTIVE)
#: How far in the past an ``at`` or window start may be when the deployment is created (clocks differ, requests
#: take time); such a start is taken as "now".
START_TOLERANCE_MS = 60_000
#: A start or end acted on later than this is noted as late on the timeline.
LATE_MS = 1_000
#: The scheduler reads the store at least this often (deployments another hub process created).
REFRESH_S = 10.0
#: Missed cron runs counted one by one up to this many.
_COUNT_CAP = 1000


def iso(ts: int) -> str:
    """Epoch ms as RFC 3339 in UTC, to the second (``2026-11-22T10:00:00Z``)."""
    return datetime.fromtimestamp(ts // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def next_fire(cron: CronSchedule, at: int) -> int | None:
    """The first time (epoch ms) at or after ``at`` that ``cron`` names; ``None`` if none in 50 years."""
    after = datetime.fromtimestamp(-(-at // 1000) - 1, ZoneInfo(cron.timezone))
    try:
        return _ms(next(CronSim(cron.cron, after)))
    except StopIteration:
        return None


def last_fire(cron: CronSchedule, at: int) -> int | None:
    """The latest time (epoch ms) at or before ``at`` that ``cron`` names; ``None`` if none in 50 years."""
    before = datetime.fromtimestamp(at // 1000 + 1, ZoneInfo(cron.timezone))
    try:
        return _ms(next(CronSim(cron.cron, before, reverse=True)))
    except StopIteration:
        return None


def _count_fires(cron: CronSchedule, first: int, last: int) -> str:
    """How many times ``cron`` names from ``first`` to ``last``, both included (``1000+`` past the cap)."""
    it = CronSim(cron.cron, datetime.fromtimestamp(first // 1000 - 1, ZoneInfo(cron.timezone)))
    count = 0
    for fire in it:
        if _ms(fire) > last:
            return str(count)
        count += 1
        if count >= _COUNT_CAP:
            return f"{_COUNT_CAP}+"
    return str(count)


def check(schedule: AnySchedule, now: int) -> None:
    """Refuse a schedule that cannot run as given, naming the problem (a ``422``).

    Raises:
        InvalidDocument: an ``at`` or window start more than :data:`START_TOLERANCE_MS` before ``now``, a window
            already over, an unknown time zone, a cron expression the cron library refuses or that names no time.
    """
    problems: list[tuple[str, str]] = []
    if isinstance(schedule, AtSchedule | WindowSchedule) and _ms(schedule.start) < now - START_TOLERANCE_MS:
        problems.append(("start", f"start {iso(_ms(schedule.start))} is in the past (hub time {iso(now)})"))
    if isinstance(schedule, WindowSchedule) and _ms(schedule.end) <= now:
        problems.append(("end", f"end {iso(_ms(schedule.end))} is in the past (hub time {iso(now)})"))
    if isinstance(schedule, CronSchedule):
        try:
            zone = ZoneInfo(schedule.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(("timezone", f"unknown time zone {schedule.timezone!r} (an IANA name, e.g. Europe/Riga)"))
        else:
            try:
                fires = next(CronSim(schedule.cron, datetime.fromtimestamp(now // 1000, zone)), None)
            except CronSimError as exc:
                problems.append(("cron", f"bad cron expression {schedule.cron!r}: {str(exc).lower()}"))
            else:
                if fires is None:
                    problems.append(("cron", f"cron expression {schedule.cron!r} names no time in the next 50 years"))
    if problems:
        field, message = problems[0]
        raise InvalidDocument(
            f"schedule.{field}: {message}",
            [{"loc": ["body", "schedule", field], "msg": msg} for field, msg in problems],
        )


class Step(StrEnum):
    """What a deployment's schedule asks for now."""

    START = "start"  # place it: a run begins
    END = "end"  # drop its instances: the run is over (to ``status``)
    RECORD = "record"  # change the status without a run (``missed``, or no time named any more)


@dataclass(frozen=True, slots=True)
class Plan:
    """Where a scheduled deployment stands at one instant.

    ``next_start``: the next run's start (epoch ms, maybe already due); ``due``: when it needs a decision next
    (``None``: never by itself); ``step`` to take now, if any, with the status it leads to (END, RECORD), its
    reason, and for START the runs skipped before it (``missed``, recorded first).
    """

    next_start: int | None
    due: int | None
    step: Step | None = None
    status: DeploymentStatus | None = None
    reason: str = ""
    missed: str | None = None


def _late(now: int, at: int) -> str:
    return f", {(now - at) // 1000} s late (no hub acted at {iso(at)})" if now - at > LATE_MS else ""


def plan(deployment: DeploymentRecord, now: int) -> Plan:
    """What ``deployment``'s schedule asks for at ``now`` (epoch ms), from its schedule, status and timeline."""
    schedule = parse_schedule(deployment.schedule)
    if isinstance(schedule, NowSchedule) or deployment.status not in (DeploymentStatus.SCHEDULED, *IN_RUN):
        return Plan(None, None)
    if isinstance(schedule, CronSchedule):
        if deployment.status is DeploymentStatus.SCHEDULED:
            return _cron_waiting(schedule, deployment, now)
        return _cron_running(schedule, deployment, now)
    return _plan_once(schedule, deployment.status, now)


def _plan_once(schedule: AtSchedule | WindowSchedule, status: DeploymentStatus, now: int) -> Plan:
    start = _ms(schedule.start)
    end = _ms(schedule.end) if isinstance(schedule, WindowSchedule) else None
    what = describe(schedule)
    if status is DeploymentStatus.SCHEDULED:
        if now < start:
            return Plan(start, start)
        if end is not None and now >= end:
            reason = f"missed: the {what} passed while no hub was running"
            return Plan(None, None, Step.RECORD, DeploymentStatus.COMPLETED, reason)
        return Plan(start, None, Step.START, reason=f"schedule: {what} began{_late(now, start)}")
    if end is None or now < end:
        return Plan(None, end)
    return Plan(None, None, Step.END, DeploymentStatus.COMPLETED, f"schedule: {what} ended{_late(now, end)}")


def _cron_running(cron: CronSchedule, deployment: DeploymentRecord, now: int) -> Plan:
    began = _run_began(deployment)
    start = last_fire(cron, began)
    end = (start if start is not None else began) + cron.duration_s * 1000
    following = next_fire(cron, end)
    if now < end:
        return Plan(following, end)
    what = f"schedule: cron run {iso(end - cron.duration_s * 1000)} to {iso(end)} ended{_late(now, end)}"
    if following is None:
        return Plan(None, None, Step.END, DeploymentStatus.COMPLETED, f"{what}; '{cron.cron}' names no later time")
    return Plan(following, None, Step.END, DeploymentStatus.SCHEDULED, f"{what}; next start {iso(following)}")


def _cron_waiting(cron: CronSchedule, deployment: DeploymentRecord, now: int) -> Plan:
    duration = cron.duration_s * 1000
    first = next_fire(cron, _cursor(cron, deployment, duration))
    if first is None:
        reason = f"schedule: '{cron.cron}' names no later time"
        return Plan(None, None, Step.RECORD, DeploymentStatus.COMPLETED, reason)
    if first > now:
        return Plan(first, first)
    latest = last_fire(cron, now)
    assert latest is not None  # first <= now is named, so some time at or before now is
    if latest + duration > now:  # the latest run is still open: start it for the rest of it
        missed = None
        if latest > first:
            earlier = last_fire(cron, latest - 1)
            assert earlier is not None
            count = _count_fires(cron, first, earlier)
            missed = f"missed: {count} cron run(s) from {iso(first)} to {iso(earlier)}, no hub was running"
        reason = f"schedule: cron run {iso(latest)} to {iso(latest + duration)} began{_late(now, latest)}"
        return Plan(latest, None, Step.START, reason=reason, missed=missed)
    count = _count_fires(cron, first, latest)
    reason = f"missed: {count} cron run(s) from {iso(first)} to {iso(latest)}, no hub was running"
    return Plan(None, None, Step.RECORD, DeploymentStatus.SCHEDULED, reason)


def _run_began(deployment: DeploymentRecord) -> int:
    """When the current run started: the entry after the last ``scheduled`` one."""
    timeline = deployment.timeline
    for i in range(len(timeline) - 1, -1, -1):
        if timeline[i].status is DeploymentStatus.SCHEDULED:
            return timeline[i + 1].ts if i + 1 < len(timeline) else deployment.updated
    return deployment.created


def _cursor(cron: CronSchedule, deployment: DeploymentRecord, duration: int) -> int:
    """The earliest time the next run may start: creation, the end of the last run, or past the last miss."""
    timeline = deployment.timeline
    cursor = deployment.created
    past_miss: int | None = None
    for i in range(len(timeline) - 1, 0, -1):
        before, entry = timeline[i - 1], timeline[i]
        if before.status is not DeploymentStatus.SCHEDULED:
            continue
        if entry.status in IN_RUN:  # a run started here
            start = last_fire(cron, entry.ts)
            cursor = (start if start is not None else entry.ts) + duration
            break
        if entry.status is DeploymentStatus.SCHEDULED and past_miss is None:
            # Runs were missed: every run that ended by then was skipped, one still open would have started.
            past_miss = entry.ts - duration + 1
    return max(cursor, past_miss) if past_miss is not None else cursor


def describe(schedule: AnySchedule) -> str:
    """A schedule in a few words, for the timeline."""
    if isinstance(schedule, AtSchedule):
        return f"start at {iso(_ms(schedule.start))}"
    if isinstance(schedule, WindowSchedule):
        return f"window {iso(_ms(schedule.start))} to {iso(_ms(schedule.end))}"
    if isinstance(schedule, CronSchedule):
        return f"cron '{schedule.cron}' ({schedule.timezone}) for {schedule.duration_s} s"
    return "now"


class Scheduler:
    """Creates scheduled deployments and runs them: one loop (:meth:`run`) waking at the next due time."""

    def __init__(
        self,
        deployments: Deployments,
        store: AppStore,
        clock: Callable[[], int] = now_ms,
        refresh_s: float = REFRESH_S,
        events: Events | None = None,
    ) -> None:
        self._deployments = deployments
        self._events = events
        self._store = store
        self._clock = clock
        self._refresh_s = refresh_s
        self._wake = asyncio.Event()

    async def create(
        self, tenant: str, app: str, version: str | None, replicas: int | None, schedule: AnySchedule
    ) -> DeploymentRecord:
        """Deploy now (``now``), or store the deployment ``scheduled`` and wake the loop.

        Raises:
            InvalidDocument: the schedule cannot run as given (:func:`check`).
            NotFound: the tenant has no such app or version.
        """
        if isinstance(schedule, NowSchedule):
            return await self._deployments.create(tenant, app, version, replicas)
        now = self._clock()
        check(schedule, now)
        first = _first_start(schedule, now)
        reason = f"scheduled: {describe(schedule)}; next start {iso(first)}"
        record = await self._deployments.create(
            tenant, app, version, replicas, schedule=schedule.model_dump_json(), scheduled=reason, ts=now
        )
        self.wake()
        return record

    def wake(self) -> None:
        """Look at the schedules again now (a deployment was created or deleted)."""
        self._wake.set()

    async def tick(self) -> int | None:
        """Take every step due now; return when the next one is due (epoch ms), ``None`` if none is known."""
        found = await self._store.list_deployments(DeploymentQuery(statuses=(DeploymentStatus.SCHEDULED, *IN_RUN)))
        due: int | None = None
        for deployment in found:
            if deployment.schedule is None:
                continue
            now = self._clock()
            step = plan(deployment, now)
            at = step.due
            if step.step is not None:
                # StaleStatus or NotFound: another hub process took the step, or it was deleted; read again.
                with contextlib.suppress(StaleStatus, NotFound):
                    await self._take(deployment, step, now)
                at = now  # look at it again at once: the next step may be due too
            if at is not None:
                due = at if due is None else min(due, at)
        return due

    async def run(self) -> None:
        """:meth:`tick` at every due time, on :meth:`wake`, and every ``refresh_s`` at least; until cancelled."""
        while True:
            self._wake.clear()
            try:
                due = await self.tick()
            except Exception:  # the store may be away for a moment; try again soon
                log.exception("running deployment schedules failed")
                due = None
            wait = self._refresh_s if due is None else min(self._refresh_s, max(0, due - self._clock() + 1) / 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def _take(self, deployment: DeploymentRecord, step: Plan, now: int) -> None:
        if step.step is Step.START:
            if step.missed is not None:
                missed = Transition(now, DeploymentStatus.SCHEDULED, step.missed)
                await self._store.update_status(deployment.id, missed, expected=DeploymentStatus.SCHEDULED)
                self._record(EventKind.SCHEDULE_MISSED, deployment, step.missed)
            await self._deployments.start_run(deployment.id, step.reason, now)
            self._record(EventKind.SCHEDULE_STARTED, deployment, step.reason)
        elif step.step is Step.END:
            assert step.status is not None
            change = Transition(now, step.status, step.reason)
            await self._deployments.end_run(deployment.id, change, expected=deployment.status)
            self._record(EventKind.SCHEDULE_ENDED, deployment, step.reason)
        else:
            assert step.status is not None
            change = Transition(now, step.status, step.reason)
            await self._store.update_status(deployment.id, change, expected=deployment.status)
            if step.reason.startswith("missed"):
                self._record(EventKind.SCHEDULE_MISSED, deployment, step.reason)
        log.info("deployment %s of %s (tenant %s): %s", deployment.id, deployment.app, deployment.tenant, step.reason)

    def _record(self, kind: EventKind, deployment: DeploymentRecord, reason: str) -> None:
        if self._events is not None:
            self._events.record(kind, deployment.tenant, message=reason, deployment=deployment.id)


def _first_start(schedule: AtSchedule | WindowSchedule | CronSchedule, now: int) -> int:
    if isinstance(schedule, CronSchedule):
        first = next_fire(schedule, now)
        assert first is not None  # check() refused an expression naming no time
        return first
    return _ms(schedule.start)

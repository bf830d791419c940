"""The alarm store: the tenants' rules, their alarms with history, and the rules' pending conditions.

At most one alarm per rule and device is open (active or acknowledged): :meth:`AlarmStore.open_alarm` inserts
only when none is, atomically, so ingest processes that see the same condition raise it once. A transition is a
compare-and-set on the state, so an acknowledgement and a clear that race end in one order, both recorded.
A pending condition (``since`` when the condition of a rule began to hold on a device, not yet for ``for_s``)
is kept so that a restart or another process goes on from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from contracts.alarms import MAX_ALARM_HISTORY, Alarm, AlarmChange, AlarmState, Rule, Severity


@dataclass(frozen=True, slots=True)
class AlarmQuery:
    """Which alarms: every given filter must hold; newest raised first."""

    tenant: str | None = None
    states: tuple[AlarmState, ...] = ()
    severities: tuple[Severity, ...] = ()
    device: str | None = None
    rule: str | None = None
    #: Raised in ``[start, end)`` (epoch ms).
    start: int | None = None
    end: int | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Pending:
    """The condition of ``rule`` (of ``tenant``) holds on ``device`` since ``since`` (epoch ms, reading time)."""

    tenant: str
    rule: str
    device: str
    since: int


def bounded_history(history: list[AlarmChange]) -> list[AlarmChange]:
    """``history`` within :data:`MAX_ALARM_HISTORY`: its first entry (the raise) and the newest ones."""
    if len(history) <= MAX_ALARM_HISTORY:
        return history
    return [history[0], *history[len(history) - MAX_ALARM_HISTORY + 1 :]]


def moved(alarm: Alarm, change: AlarmChange) -> Alarm:
    """``alarm`` after ``change`` (what :meth:`AlarmStore.transition` stores): the new state and ``updated``, the
    change added to the bounded history, and acknowledged or cleared with their ``by`` when it moves there."""
    update: dict[str, Any] = {
        "state": change.state,
        "updated": change.ts,
        "history": bounded_history([*alarm.history, change]),
    }
    if change.state is AlarmState.ACKNOWLEDGED:
        update |= {"acknowledged": change.ts, "acknowledged_by": change.by}
    elif change.state is AlarmState.CLEARED:
        update |= {"cleared": change.ts, "cleared_by": change.by}
    return alarm.model_copy(update=update)


class AlarmStore(Protocol):
    """Rules, alarms and pending conditions. Implementations are async and safe to share."""

    # rules
    async def add_rule(self, rule: Rule) -> None:
        """Insert a rule; :class:`hub.errors.Conflict` if its tenant has one of that id."""

    async def get_rule(self, tenant: str, rule_id: str) -> Rule | None:
        """One rule of ``tenant`` or ``None``."""

    async def list_rules(self, tenant: str | None) -> list[Rule]:
        """The rules of ``tenant`` (None: every tenant's), by tenant and id."""

    async def put_rule(self, rule: Rule) -> bool:
        """Replace a stored rule whole; ``False`` if there is none."""

    async def delete_rule(self, tenant: str, rule_id: str) -> bool:
        """Remove a rule with its pending conditions (its alarms stay, as history); ``False`` if there is none."""

    async def rules_changed(self) -> int:
        """A number that changes whenever a rule is added, changed or removed (evaluators compare it)."""

    # alarms
    async def open_alarm(self, alarm: Alarm) -> Alarm | None:
        """Store ``alarm`` (state active) unless its rule has an open alarm on its device; ``None`` then."""

    async def get_alarm(self, alarm_id: str, tenant: str | None) -> Alarm | None:
        """One alarm if it belongs to ``tenant`` (None: to any)."""

    async def open_alarms(self) -> list[Alarm]:
        """Every open alarm (active or acknowledged) of every tenant."""

    async def query_alarms(self, query: AlarmQuery) -> tuple[list[Alarm], int]:
        """A page of matching alarms, newest raised first, and how many match."""

    async def transition(
        self, alarm_id: str, tenant: str | None, expected: Sequence[AlarmState], change: AlarmChange
    ) -> Alarm | None:
        """Move the alarm to ``change.state`` if it is in one of ``expected``, adding ``change`` to its history
        (and setting acknowledged/cleared with their ``by``); the alarm after, ``None`` if it was not moved."""

    async def trim_alarms(self, cleared_before: int) -> int:
        """Remove alarms cleared before ``cleared_before`` (epoch ms); how many went."""

    # pending conditions
    async def pending(self) -> list[Pending]:
        """Every pending condition (an evaluator starting, or looking again)."""

    async def set_pending(self, started: Sequence[Pending], ended: Sequence[tuple[str, str, str]]) -> None:
        """In one write: record ``started`` conditions (replacing a rule and device's earlier one) and forget the
        ``ended`` ones, given as ``(tenant, rule, device)``."""

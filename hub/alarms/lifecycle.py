"""An alarm's life: raised by an evaluator, acknowledged by a person, cleared by its condition or by hand.

Every change is a compare-and-set in the store (:class:`hub.store.alarms.AlarmStore`), so the store decides
between processes that raise the same alarm, or a clear and an acknowledgement that cross; and every change is
recorded as a platform event (``alarm.raised`` ...) with the alarm and the channels its rule notifies for that
change. Followers of the events (the notification dispatcher, the alarms' live stream, webhooks) take it from
there, whatever process made the change.

The open alarms are also kept in memory, so that an evaluator knows without a query whether a rule has an open
alarm on a device; :meth:`AlarmLifecycle.run` reads them again every ``refresh_s`` to learn of changes made by
other processes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence

from contracts.alarms import OPEN_STATES, Alarm, AlarmChange, AlarmState, Rule
from contracts.events import EventKind
from contracts.telemetry import Value
from hub.clock import now_ms
from hub.errors import Conflict, NotFound, StoreUnavailable
from hub.events.service import Events
from hub.metrics import Metrics
from hub.retention import keep_for
from hub.store.alarms import AlarmQuery, AlarmStore

log = logging.getLogger(__name__)
OpenKey = tuple[str, str, str]
_KINDS = {
    AlarmState.ACTIVE: EventKind.ALARM_RAISED,
    AlarmState.ACKNOWLEDGED: EventKind.ALARM_ACKNOWLEDGED,
    AlarmState.CLEARED: EventKind.ALARM_CLEARED,
}


def open_key(alarm: Alarm) -> OpenKey:
    return (alarm.tenant, alarm.rule, alarm.device)


class OpenAlarms:
    """The open alarms this process knows, by rule and device, and which rules have one open on each device."""

    def __init__(self, alarms: list[Alarm] | None = None) -> None:
        self._by_key: dict[OpenKey, Alarm] = {}
        self._rules: dict[tuple[str, str], set[str]] = {}
        for alarm in alarms or ():
            self.put(alarm)

    def get(self, key: OpenKey) -> Alarm | None:
        return self._by_key.get(key)

    def values(self) -> list[Alarm]:
        return list(self._by_key.values())

    def put(self, alarm: Alarm) -> None:
        self._by_key[open_key(alarm)] = alarm
        self._rules.setdefault((alarm.tenant, alarm.device), set()).add(alarm.rule)

    def drop(self, alarm: Alarm) -> None:
        if self._by_key.pop(open_key(alarm), None) is not None:
            rules = self._rules[(alarm.tenant, alarm.device)]
            rules.discard(alarm.rule)
            if not rules:
                del self._rules[(alarm.tenant, alarm.device)]

    def rules_on(self, tenant: str, device: str) -> set[str]:
        """The rules with an open alarm on ``device`` (do not change the set)."""
        return self._rules.get((tenant, device), _NONE)


_NONE: set[str] = set()


class AlarmLifecycle:
    """Raises, acknowledges, clears and finds alarms; ``run`` keeps the open ones in memory current."""

    def __init__(self, store: AlarmStore, events: Events, metrics: Metrics, *, refresh_s: float = 2.0) -> None:
        self.store = store
        self._events = events
        self._metrics = metrics
        self._refresh_s = refresh_s
        self._open = OpenAlarms()

    def open_alarm(self, tenant: str, rule: str, device: str) -> Alarm | None:
        """The open alarm of ``rule`` on ``device``, as this process last knew it."""
        return self._open.get((tenant, rule, device))

    def open_rules(self, tenant: str, device: str) -> set[str]:
        """The rules with an open alarm on ``device``, as this process last knew them."""
        return self._open.rules_on(tenant, device)

    async def load(self) -> None:
        """Read the open alarms now."""
        self._open = OpenAlarms(await self.store.open_alarms())

    async def run(self) -> None:
        """Read the open alarms again every ``refresh_s``, until cancelled."""
        while True:
            await asyncio.sleep(self._refresh_s)  # a periodic look at the store: nothing to wait for but time
            try:
                await self.load()
            except StoreUnavailable as exc:
                log.warning("cannot read the open alarms, keeping the ones known: %s", exc.message)

    async def keep(self, days: float, interval_s: float) -> None:
        """Remove alarms cleared more than ``days`` ago, every ``interval_s``, until cancelled (one process)."""
        await keep_for(days, interval_s, self.store.trim_alarms, "cleared alarm", log)

    async def raise_alarm(
        self, rule: Rule, device: str, key: str | None, value: Value | None, message: str
    ) -> Alarm | None:
        """Open an alarm of ``rule`` on ``device``; ``None`` if one is open already (raised elsewhere, maybe)."""
        ts = now_ms()
        alarm = Alarm(
            id=f"al-{secrets.token_hex(8)}",
            tenant=rule.tenant,
            rule=rule.id,
            rule_name=rule.name,
            device=device,
            key=key,
            severity=rule.severity,
            state=AlarmState.ACTIVE,
            message=message,
            value=value,
            raised=ts,
            updated=ts,
            history=[AlarmChange(state=AlarmState.ACTIVE, ts=ts, value=value)],
        )
        stored = await self.store.open_alarm(alarm)
        if stored is None:
            # Another process raised it: know it now, so the next readings test its clear instead.
            query = AlarmQuery(tenant=rule.tenant, rule=rule.id, device=device, states=OPEN_STATES, limit=1)
            found, _ = await self.store.query_alarms(query)
            if found:
                self._open.put(found[0])
            return None
        self._open.put(stored)
        self._told(stored, rule)
        return stored

    async def clear_by_rule(self, alarm: Alarm, rule: Rule, value: Value | None) -> Alarm | None:
        """The alarm's clear condition held: clear it (``None`` if it was no longer open)."""
        change = AlarmChange(state=AlarmState.CLEARED, ts=now_ms(), value=value)
        return await self._move(alarm.id, alarm.tenant, OPEN_STATES, change, rule)

    async def acknowledge(self, alarm_id: str, tenant: str | None, by: str, note: str | None) -> Alarm:
        """Someone saw the alarm. Raises NotFound (or not the caller's tenant's), Conflict (not active)."""
        change = AlarmChange(state=AlarmState.ACKNOWLEDGED, ts=now_ms(), by=by, note=note)
        return await self._by_hand(alarm_id, tenant, (AlarmState.ACTIVE,), change)

    async def clear(self, alarm_id: str, tenant: str | None, by: str, note: str | None) -> Alarm:
        """Someone cleared the alarm by hand. Raises NotFound, Conflict (already cleared)."""
        change = AlarmChange(state=AlarmState.CLEARED, ts=now_ms(), by=by, note=note)
        return await self._by_hand(alarm_id, tenant, OPEN_STATES, change)

    async def _by_hand(
        self, alarm_id: str, tenant: str | None, expected: Sequence[AlarmState], change: AlarmChange
    ) -> Alarm:
        found = await self.store.get_alarm(alarm_id, tenant)
        if found is None:
            raise NotFound("alarm", alarm_id)
        rule = await self.store.get_rule(found.tenant, found.rule)
        moved = await self._move(alarm_id, found.tenant, expected, change, rule)
        if moved is None:
            now = await self.store.get_alarm(alarm_id, tenant)
            state = now.state.value if now is not None else "gone"
            raise Conflict(f"alarm {alarm_id} is {state}: it cannot become {change.state.value}")
        return moved

    async def _move(
        self, alarm_id: str, tenant: str, expected: Sequence[AlarmState], change: AlarmChange, rule: Rule | None
    ) -> Alarm | None:
        moved = await self.store.transition(alarm_id, tenant, expected, change)
        if moved is None:
            return None
        if moved.state is AlarmState.CLEARED:
            self._open.drop(moved)
        else:
            self._open.put(moved)
        self._told(moved, rule)
        return moved

    def _told(self, alarm: Alarm, rule: Rule | None) -> None:
        """Count the change and record its event, naming the channels the rule notifies for it."""
        self._metrics.alarm_transitions.labels(alarm.state.value).inc()
        notify = list(rule.channels) if rule is not None and alarm.state in rule.notify_on else []
        self._events.record(
            _KINDS[alarm.state],
            alarm.tenant,
            message=f"{alarm.state.value}: {alarm.message}",
            node=alarm.device,
            data={"alarm": alarm.model_dump(mode="json", exclude={"history"}), "notify": notify},
        )

    async def get(self, alarm_id: str, tenant: str | None) -> Alarm:
        found = await self.store.get_alarm(alarm_id, tenant)
        if found is None:
            raise NotFound("alarm", alarm_id)
        return found

    async def query(self, query: AlarmQuery) -> tuple[list[Alarm], int]:
        return await self.store.query_alarms(query)

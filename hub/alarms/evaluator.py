"""Evaluating the rules on what ingest stored and on the gateways' heartbeats, in each process that stores them.

Ingest hands every stored batch over in memory (:meth:`Evaluator.offer`, an ingest observer) and goes on: the
evaluator works through a bounded queue of its own, so rules never slow ingest. If evaluation falls more than
``queue_batches`` batches behind, the oldest waiting batch is skipped and counted
(``fieldhub_alarm_batches_skipped``) rather than holding memory or ingest.

Per rule and device the evaluator keeps when the raise condition began to hold (its reading time), for the
rule's ``for_s``; that start is also written to the store, so a restart goes on from it. A state is kept only
while it matters (the condition holds, an alarm is open, or a rate rule needs the previous reading), so a
thousand rules over many quiet devices cost no memory. A condition that holds while the device sends nothing
more still raises once ``for_s`` has passed: :meth:`Evaluator.sweep` looks every ``sweep_s``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from contracts.alarms import RuleKind
from contracts.nodes import Heartbeat
from contracts.telemetry import ReadingColumns, Value
from hub.alarms.conditions import is_number
from hub.alarms.lifecycle import AlarmLifecycle, OpenKey
from hub.alarms.rulebook import Compiled, KeyRules, RuleBook, Watch, alarm_message
from hub.clock import now_ms
from hub.errors import StoreUnavailable
from hub.logutil import RateLimitedLog
from hub.metrics import Metrics
from hub.store.alarms import AlarmStore, Pending
from hub.store.telemetry import Message

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _State:
    """What is known of one rule on one device."""

    since: int | None = None
    #: Reading time and value of the last reading evaluated (a rate rule's previous reading).
    last_ts: int = -(2**63)
    last_value: Value | None = None
    #: The value the condition was tested on last (the rate, for a rate rule), and whether it held.
    tested: Value | None = None
    holds: bool = False


@dataclass(frozen=True, slots=True)
class _Beat:
    device_id: str
    received: int
    figures: dict[str, float]


def figures(beat: Heartbeat) -> dict[str, float]:
    """The heartbeat's figures a rule can watch, by name (:data:`contracts.alarms.HEARTBEAT_FIGURES`)."""
    found: dict[str, float] = {}
    for name in ("cpu_temp", "load1", "mem_used_pct", "disk_used_pct"):
        value = getattr(beat, name)
        if value is not None:
            found[name] = value
    spool = beat.spool
    found["spool.depth"] = spool.depth
    found["spool.dropped"] = spool.dropped
    found["spool.bytes_used"] = spool.bytes_used
    if spool.oldest_age_s is not None:
        found["spool.oldest_age_s"] = spool.oldest_age_s
    return found


class Evaluator:
    """Evaluates rules on stored telemetry and heartbeats; ``run`` and ``sweep`` are its tasks."""

    def __init__(
        self,
        book: RuleBook,
        lifecycle: AlarmLifecycle,
        store: AlarmStore,
        metrics: Metrics,
        *,
        queue_batches: int = 1024,
        sweep_s: float = 1.0,
    ) -> None:
        self._book = book
        self._lifecycle = lifecycle
        self._store = store
        self._metrics = metrics
        self._queue: deque[Sequence[Message] | _Beat] = deque()
        self._queue_max = queue_batches
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._sweep_s = sweep_s
        self._states: dict[OpenKey, _State] = {}
        #: Per device, the rules with a state on it (evaluated on its readings even where their condition fails).
        self._live: dict[str, set[str]] = {}
        #: Pending conditions started (a Pending) or ended (None) since the last write to the store.
        self._pending: dict[OpenKey, Pending | None] = {}
        self._log = RateLimitedLog(log)

    def offer(self, messages: Sequence[Message]) -> None:
        """A batch ingest stored (never blocks)."""
        if not self._book.empty:
            self._enqueue(messages)

    def offer_heartbeat(self, device_id: str, beat: Heartbeat) -> None:
        """A gateway's heartbeat the hub stored (never blocks)."""
        if not self._book.empty:
            self._enqueue(_Beat(device_id, now_ms(), figures(beat)))

    def _enqueue(self, item: Sequence[Message] | _Beat) -> None:
        if len(self._queue) >= self._queue_max:
            self._queue.popleft()
            self._metrics.alarm_batches_skipped.inc()
            self._log.warning("skipped", "alarm evaluation is behind: skipped a stored batch")
        self._queue.append(item)
        self._idle.clear()
        self._wake.set()

    async def load(self) -> None:
        """Go on from the pending conditions in the store (a restart, or another process's)."""
        for pending in await self._store.pending():
            ident = (pending.tenant, pending.rule, pending.device)
            self._remember(ident, _State(since=pending.since, last_ts=pending.since, holds=True))

    async def drained(self) -> None:
        """Wait until everything offered so far was evaluated (benchmarks)."""
        await self._idle.wait()

    async def run(self) -> None:
        """Evaluate what is offered, until cancelled."""
        await self._book.loaded()
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            item = self._queue.popleft()
            started = time.perf_counter()
            try:
                if isinstance(item, _Beat):
                    await self._heartbeat(item)
                else:
                    await self._batch(item)
                await self._flush_pending()
            except StoreUnavailable as exc:
                self._log.warning("store", "alarm evaluation of a batch failed, the store is away: %s", exc.message)
            except Exception:
                log.exception("alarm evaluation of a batch failed")
            self._metrics.alarm_evaluation_seconds.observe(time.perf_counter() - started)

    async def _batch(self, messages: Sequence[Message]) -> None:
        for message in messages:
            watch = await self._book.watch(message.device_id)
            if watch is None:
                continue
            columns = ReadingColumns.of(message.readings)
            if watch.silence:
                await self._heard(watch, columns.keys)
            rules = watch.telemetry
            if not rules:
                continue
            for key, ts, value in zip(columns.keys, columns.stamps, columns.values, strict=True):
                watching = rules.get(key)
                if watching is not None:
                    await self._key(watching, watch, key, ts, value)

    async def _heartbeat(self, beat: _Beat) -> None:
        watch = await self._book.watch(beat.device_id)
        if watch is None or not watch.heartbeat:
            return
        for key, value in beat.figures.items():
            watching = watch.heartbeat.get(key)
            if watching is not None:
                await self._key(watching, watch, key, beat.received, value)

    async def _key(self, rules: KeyRules, watch: Watch, key: str, ts: int, value: Value) -> None:
        """Evaluate the rules on ``key`` that the reading concerns: those whose condition may hold for it, and
        those with a state or an open alarm on the device (the rest have nothing to do)."""
        device = watch.device
        holding = rules.holding(value)
        known = self._live.get(device.id)
        opened = self._lifecycle.open_rules(device.tenant, device.id)
        for compiled in holding:
            await self._reading(compiled, watch, key, ts, value)
        if not known and not opened:
            return
        tested = {compiled.rule.id for compiled in holding}
        for rule_id in [*(known or ()), *opened]:
            other = rules.by_id.get(rule_id)
            if other is not None and rule_id not in tested:
                tested.add(rule_id)
                await self._reading(other, watch, key, ts, value)

    async def _heard(self, watch: Watch, keys: Sequence[str]) -> None:
        """The device sent data: clear its open no-data alarms of any message, and of the keys it sent."""
        device = watch.device.id
        for key, rules in watch.silence.items():
            if key is not None and key not in keys:
                continue
            for compiled in rules:
                alarm = self._lifecycle.open_alarm(watch.device.tenant, compiled.rule.id, device)
                if alarm is not None:
                    await self._lifecycle.clear_by_rule(alarm, compiled.rule, None)

    async def _reading(self, compiled: Compiled, watch: Watch, key: str, ts: int, value: Value) -> None:
        rule = compiled.rule
        ident = (rule.tenant, rule.id, watch.device.id)
        state = self._states.get(ident)
        if state is not None and ts < state.last_ts:
            return  # older than a reading already evaluated (a backlog arriving out of order)
        tested: Value = value
        if rule.kind is RuleKind.RATE:
            if state is None:
                state = self._remember(ident)
            previous, previous_ts = state.last_value, state.last_ts
            state.last_value, state.last_ts = value, ts
            if not (is_number(previous) and is_number(value)) or ts == previous_ts:
                return
            tested = (value - previous) * 1000 / (ts - previous_ts)  # type: ignore[operator]
        alarm = self._lifecycle.open_alarm(*ident)
        holds = compiled.conditions.raises(tested)
        if state is None:
            if not holds and alarm is None:
                return  # the usual case: nothing to remember
            state = self._remember(ident)
        state.last_ts, state.last_value, state.tested, state.holds = ts, value, tested, holds
        if alarm is not None:
            if compiled.conditions.clears(tested):
                await self._lifecycle.clear_by_rule(alarm, rule, tested)
                self._end(compiled, ident, state)
            return
        if not holds:
            self._end(compiled, ident, state)
            return
        if state.since is None:
            state.since = ts
            self._pending[ident] = Pending(rule.tenant, rule.id, watch.device.id, ts)
        if ts - state.since >= rule.for_s * 1000:
            await self._raise(compiled, watch, key, ident, state)

    def _end(self, compiled: Compiled | None, ident: OpenKey, state: _State) -> None:
        """The raise condition no longer holds, or its alarm is up: nothing pending. The state goes unless a rate
        rule needs its previous reading or an alarm is open (its clear is tested next)."""
        if state.since is not None:
            state.since = None
            self._pending[ident] = None
        rate = compiled is not None and compiled.rule.kind is RuleKind.RATE
        if not rate and self._lifecycle.open_alarm(*ident) is None:
            self._forget(ident)

    def _remember(self, ident: OpenKey, state: _State | None = None) -> _State:
        """Keep a state for the rule on the device (and know the device has one)."""
        kept = self._states[ident] = state or _State()
        self._live.setdefault(ident[2], set()).add(ident[1])
        return kept

    def _forget(self, ident: OpenKey) -> None:
        if self._states.pop(ident, None) is not None:
            live = self._live[ident[2]]
            live.discard(ident[1])
            if not live:
                del self._live[ident[2]]

    async def _raise(self, compiled: Compiled, watch: Watch, key: str, ident: OpenKey, state: _State) -> None:
        message = alarm_message(compiled, watch.device, key, state.tested, unit=watch.units.get(key, ""))
        await self._lifecycle.raise_alarm(compiled.rule, watch.device.id, key, state.tested, message)
        self._end(compiled, ident, state)

    async def _flush_pending(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        started = [p for p in pending.values() if p is not None]
        ended = [ident for ident, p in pending.items() if p is None]
        await self._store.set_pending(started, ended)

    async def sweep(self) -> None:
        """Raise where a condition has held ``for_s`` without a newer reading, every ``sweep_s``, until cancelled."""
        while True:
            await asyncio.sleep(self._sweep_s)  # a timer: the condition's time passing is the event
            try:
                await self._sweep_once()
                await self._flush_pending()
            except StoreUnavailable as exc:
                self._log.warning("sweep", "alarm timers could not run, the store is away: %s", exc.message)

    async def _sweep_once(self) -> None:
        now = now_ms()
        for ident, state in list(self._states.items()):
            if state.since is None or not state.holds or self._lifecycle.open_alarm(*ident) is not None:
                continue
            _, rule_id, device = ident
            watch = await self._book.watch(device)
            compiled = None if watch is None else _find(watch, rule_id)
            if compiled is None or watch is None:
                self._end(None, ident, state)  # the rule or the device is gone, or no longer watches it
                continue
            if now - state.since >= compiled.rule.for_s * 1000:
                await self._raise(compiled, watch, compiled.rule.key or "", ident, state)


def _find(watch: Watch, rule_id: str) -> Compiled | None:
    for rules in (*watch.telemetry.values(), *watch.heartbeat.values()):
        compiled = rules.by_id.get(rule_id)
        if compiled is not None:
            return compiled
    return None

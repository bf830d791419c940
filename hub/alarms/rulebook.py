"""Which rules watch which device: the enabled rules, compiled, and per device the ones that apply to it.

A rule applies to the devices of its tenant that have its profile, or whose labels hold every label of its
selector. Evaluators ask per stored message, so the answer is cached per device; the rules are read again, and
every cached answer dropped, when the store says rules or profiles changed (read every ``refresh_s``), and a
device's own record (its labels, profile and name) is read again after ``device_ttl_s``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, field

from contracts.alarms import Operator, Rule, RuleKind, Source
from contracts.devices import Device
from contracts.events import MAX_MESSAGE_CHARS
from contracts.telemetry import Value
from hub.alarms.conditions import Conditions, compile_rule, is_number, render, threshold_text
from hub.errors import StoreUnavailable
from hub.store.alarms import AlarmStore
from hub.store.profiles import ProfileStore
from hub.store.registry import RegistryStore

log = logging.getLogger(__name__)
#: Devices whose rules are remembered; beyond it the cache starts over.
MAX_CACHED_DEVICES = 200_000


@dataclass(frozen=True, slots=True)
class Compiled:
    """A rule with its conditions, ready to evaluate."""

    rule: Rule
    conditions: Conditions
    threshold: str

    @property
    def ident(self) -> tuple[str, str]:
        return (self.rule.tenant, self.rule.id)


class KeyRules:
    """The rules on one key, arranged so that a reading finds those whose condition may hold without testing each.

    A threshold on an ordering holds for a reading exactly when the reading is past its limit, so those rules are
    kept sorted by limit and a reading takes the ones it passes by bisection; numeric equalities are looked up by
    value. Ranges, rates and the rest are tested on every reading. A rule whose condition does not hold, which has
    no open alarm and no pending state, has nothing to do: the evaluator tests the others too, by :attr:`by_id`.
    """

    def __init__(self, rules: list[Compiled]) -> None:
        self.by_id = {compiled.rule.id: compiled for compiled in rules}
        self.always: list[Compiled] = []
        self._equal: dict[float, list[Compiled]] = {}
        ordered: dict[Operator, list[tuple[float, Compiled]]] = {op: [] for op in _ORDERINGS}
        for compiled in rules:
            rule = compiled.rule
            numeric = is_number(rule.value)
            if rule.kind is RuleKind.THRESHOLD and rule.op in _ORDERINGS and numeric:
                ordered[rule.op].append((float(rule.value), compiled))  # type: ignore[arg-type]
            elif rule.kind is RuleKind.THRESHOLD and rule.op is Operator.EQ and numeric:
                self._equal.setdefault(float(rule.value), []).append(compiled)  # type: ignore[arg-type]
            else:
                self.always.append(compiled)
        self._limits = {op: [limit for limit, _ in sorted(pairs, key=_first)] for op, pairs in ordered.items()}
        self._rules = {op: [c for _, c in sorted(pairs, key=_first)] for op, pairs in ordered.items()}

    def holding(self, value: Value) -> list[Compiled]:
        """The rules whose condition may hold for ``value``: every one that does, and untested ones."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return self.always
        found = list(self.always)
        limits, rules = self._limits, self._rules
        found += rules[Operator.GT][: bisect_left(limits[Operator.GT], value)]
        found += rules[Operator.GE][: bisect_right(limits[Operator.GE], value)]
        found += rules[Operator.LT][bisect_right(limits[Operator.LT], value) :]
        found += rules[Operator.LE][bisect_left(limits[Operator.LE], value) :]
        found += self._equal.get(value, ())
        return found


_ORDERINGS = (Operator.GT, Operator.GE, Operator.LT, Operator.LE)


def _first(pair: tuple[float, Compiled]) -> float:
    return pair[0]


@dataclass(slots=True)
class Watch:
    """What watches one device: rules by telemetry key, by heartbeat figure, and its no-data rules by key."""

    device: Device
    telemetry: dict[str, KeyRules] = field(default_factory=dict)
    heartbeat: dict[str, KeyRules] = field(default_factory=dict)
    #: No-data rules; a key of None watches any message.
    silence: dict[str | None, list[Compiled]] = field(default_factory=dict)
    #: Units of the device's profile keys (for messages).
    units: dict[str, str] = field(default_factory=dict)


def alarm_message(
    compiled: Compiled, device: Device, key: str, value: object, *, unit: str = "", silent_s: object = ""
) -> str:
    """The rule's message template filled in for an alarm on ``device`` (bounded like an event's message)."""
    rule = compiled.rule
    fields: dict[str, object] = {
        "device": device.id,
        "device_name": device.name,
        "key": key,
        "value": value,
        "unit": unit,
        "threshold": compiled.threshold,
        "rule": rule.name,
        "severity": rule.severity.value,
        "silent_s": silent_s,
        "tenant": rule.tenant,
    }
    return render(rule.message, fields)[:MAX_MESSAGE_CHARS]


def applies(rule: Rule, device: Device) -> bool:
    """Whether ``rule`` watches ``device``."""
    if not rule.enabled or rule.tenant != device.tenant:
        return False
    if rule.profile is not None:
        return device.profile == rule.profile
    selector = rule.selector or {}
    return all(device.labels.get(k) == v for k, v in selector.items())


class RuleBook:
    """The enabled rules of every tenant and, per device, those that watch it; ``run`` keeps them current."""

    def __init__(
        self,
        alarms: AlarmStore,
        registry: RegistryStore,
        profiles: ProfileStore,
        *,
        refresh_s: float = 1.0,
        device_ttl_s: float = 60.0,
    ) -> None:
        self._alarms = alarms
        self._registry = registry
        self._profiles = profiles
        self._refresh_s = refresh_s
        self._device_ttl_s = device_ttl_s
        self._rules: dict[str, list[Compiled]] = {}
        #: Per device: until when the answer holds (monotonic seconds), and the answer.
        self._watches: dict[str, tuple[float, Watch | None]] = {}
        self._versions: tuple[int, int] | None = None
        self._loaded = asyncio.Event()

    @property
    def empty(self) -> bool:
        """No rule is enabled anywhere (ingest then has nothing to evaluate)."""
        return not self._rules

    def rules(self) -> list[Compiled]:
        """Every enabled rule."""
        return [compiled for rules in self._rules.values() for compiled in rules]

    async def loaded(self) -> None:
        """Wait until the rules were read once."""
        await self._loaded.wait()

    async def watch(self, device_id: str) -> Watch | None:
        """What watches the device (``None``: no rule does, or it does not exist)."""
        now = time.monotonic()
        known = self._watches.get(device_id)
        if known is not None and known[0] > now:
            return known[1]
        found = await self._registry.get_device(device_id)
        watch = None if found is None else await self._watch_of(found)
        if len(self._watches) >= MAX_CACHED_DEVICES:
            self._watches.clear()
        self._watches[device_id] = (now + self._device_ttl_s, watch)
        return watch

    async def watch_device(self, device: Device) -> Watch | None:
        """What watches ``device``, from its record at hand (the no-data watch lists devices anyway)."""
        return await self._watch_of(device)

    async def _watch_of(self, device: Device) -> Watch | None:
        rules = [c for c in self._rules.get(device.tenant, ()) if applies(c.rule, device)]
        if not rules:
            return None
        watch = Watch(device)
        telemetry: dict[str, list[Compiled]] = defaultdict(list)
        heartbeat: dict[str, list[Compiled]] = defaultdict(list)
        for compiled in rules:
            rule = compiled.rule
            if rule.kind is RuleKind.NO_DATA:
                watch.silence.setdefault(rule.key, []).append(compiled)
            elif rule.source is Source.HEARTBEAT:
                heartbeat[rule.key or ""].append(compiled)
            else:
                telemetry[rule.key or ""].append(compiled)
        watch.telemetry = {key: KeyRules(found) for key, found in telemetry.items()}
        watch.heartbeat = {key: KeyRules(found) for key, found in heartbeat.items()}
        if device.profile is not None:
            profile = await self._profiles.get_profile(device.tenant, device.profile)
            if profile is not None:
                watch.units = {key: spec.unit for key, spec in profile.keys.items() if spec.unit}
        return watch

    async def reload(self) -> None:
        """Read the rules now and forget what was cached."""
        versions = (await self._alarms.rules_changed(), await self._profiles.changed())
        by_tenant: dict[str, list[Compiled]] = defaultdict(list)
        for rule in await self._alarms.list_rules(None):
            if rule.enabled:
                by_tenant[rule.tenant].append(Compiled(rule, compile_rule(rule), threshold_text(rule)))
        self._rules = dict(by_tenant)
        self._watches.clear()
        self._versions = versions
        self._loaded.set()

    async def run(self) -> None:
        """Read the rules again whenever rules or profiles changed, until cancelled."""
        while True:
            try:
                versions = (await self._alarms.rules_changed(), await self._profiles.changed())
                if versions != self._versions:
                    await self.reload()
            except StoreUnavailable as exc:
                log.warning("cannot read the alarm rules, keeping the ones known: %s", exc.message)
            await asyncio.sleep(self._refresh_s)  # a periodic look at the store: nothing to wait for but time

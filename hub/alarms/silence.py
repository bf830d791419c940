"""The watch for silence: no-data rules raise when a device sends nothing (of a key) for ``silence_s`` seconds.

Silence has no reading to be evaluated on, so one process looks for it (``fieldhub up``): every rule in turn,
about four times per its ``silence_s`` (at least every second, at most every 30 s), lists the devices it applies
to and asks the store in one query when each was last heard. A device's silence counts from the latest of its
last reading, its creation, the rule's last change and the start of this watch, so a hub that was down raises
nothing for the time it could not hear. A device heard again clears its alarm at once (the evaluator of the
process that stored the reading sees it); this watch clears what the evaluators could not, such as a rule
changed to a longer silence. A gateway's heartbeats are watched the same way by a heartbeat rule without key.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from contracts.alarms import RuleKind, Source
from contracts.devices import Device
from hub.alarms.lifecycle import AlarmLifecycle
from hub.alarms.rulebook import Compiled, RuleBook, alarm_message, applies
from hub.clock import now_ms
from hub.errors import StoreUnavailable
from hub.logutil import RateLimitedLog
from hub.store.nodes import NodeStore
from hub.store.registry import DeviceQuery, RegistryStore
from hub.store.telemetry import TelemetryStore

log = logging.getLogger(__name__)
_PAGE = 1000


def check_interval_s(silence_s: float) -> float:
    """How often a rule with ``silence_s`` is looked at."""
    return min(30.0, max(1.0, silence_s / 4))


class SilenceWatch:
    """Raises and clears no-data alarms; ``run`` until cancelled."""

    def __init__(
        self,
        book: RuleBook,
        lifecycle: AlarmLifecycle,
        registry: RegistryStore,
        telemetry: TelemetryStore,
        nodes: NodeStore,
        *,
        tick_s: float = 1.0,
    ) -> None:
        self._book = book
        self._lifecycle = lifecycle
        self._registry = registry
        self._telemetry = telemetry
        self._nodes = nodes
        self._tick_s = tick_s
        self._due: dict[tuple[str, str], float] = {}
        self._started = now_ms()
        self._log = RateLimitedLog(log)

    async def run(self) -> None:
        self._started = now_ms()
        await self._book.loaded()
        while True:
            try:
                await self.check()
            except StoreUnavailable as exc:
                self._log.warning("store", "the no-data watch could not look, the store is away: %s", exc.message)
            await asyncio.sleep(self._tick_s)  # a timer: silence is time passing without an event

    async def check(self) -> None:
        """Look at every no-data rule that is due."""
        now = time.monotonic()
        for compiled in self._book.rules():
            rule = compiled.rule
            if rule.kind is not RuleKind.NO_DATA or rule.silence_s is None:
                continue
            if self._due.get(compiled.ident, 0.0) > now:
                continue
            self._due[compiled.ident] = now + check_interval_s(rule.silence_s)
            async for devices in self._devices(compiled):
                await self._look(compiled, devices)

    async def _devices(self, compiled: Compiled) -> AsyncIterator[list[Device]]:
        """Pages of the enabled devices the rule applies to."""
        rule = compiled.rule
        first_label = next(iter((rule.selector or {}).items()), None)
        offset = 0
        while True:
            page, total = await self._registry.list_devices(
                DeviceQuery(tenant=rule.tenant, profile=rule.profile, label=first_label, limit=_PAGE, offset=offset)
            )
            devices = [device for device in page if device.enabled and applies(rule, device)]
            if devices:
                yield devices
            offset += _PAGE
            if offset >= total or not page:
                return

    async def _look(self, compiled: Compiled, devices: list[Device]) -> None:
        rule = compiled.rule
        assert rule.silence_s is not None
        if rule.source is Source.HEARTBEAT:
            heard = await self._heartbeats(devices)
        else:
            heard = await self._telemetry.last_heard([d.id for d in devices], rule.key)
        now = now_ms()
        for device in devices:
            created = int(device.created.timestamp() * 1000)
            since = max(heard.get(device.id, created), created, rule.updated, self._started)
            silent_ms = now - since
            alarm = self._lifecycle.open_alarm(rule.tenant, rule.id, device.id)
            if silent_ms >= rule.silence_s * 1000 and alarm is None:
                await self._raise(compiled, device, silent_ms / 1000)
            elif silent_ms < rule.silence_s * 1000 and alarm is not None and device.id in heard:
                await self._lifecycle.clear_by_rule(alarm, rule, None)

    async def _heartbeats(self, devices: list[Device]) -> dict[str, int]:
        heard = {}
        for device in devices:
            record = await self._nodes.get_heartbeat(device.id)
            if record is not None:
                heard[device.id] = record.received
        return heard

    async def _raise(self, compiled: Compiled, device: Device, silent_s: float) -> None:
        rule = compiled.rule
        key = rule.key or ("heartbeat" if rule.source is Source.HEARTBEAT else "any message")
        message = alarm_message(compiled, device, key, None, silent_s=round(silent_s))
        await self._lifecycle.raise_alarm(rule, device.id, rule.key, None, message)

"""Sessions of hub processes that are gone: the leader takes each one over, empties it into the hub, unsubscribes it.

Every hub process that reads the devices' messages from Mosquitto has a persistent session there (client id
``fieldhub-<replica id>``) in the shared subscription's group. Mosquitto keeps giving a share of the messages to
the session of a process that died or stopped, and keeps them until that client id connects again. A process
scaled away would hold its share back forever, and a killed one until it is restarted.

So each such process holds the lease ``mqtt-session:<client id>`` in the store while it runs (:func:`session_lease`).
The leader looks for lapsed ones (:class:`SessionAdoption`): a process that stopped released its lease, and one that
died let it run out. The leader takes the lapsed lease and connects once under that client id, without reconnecting:

- It subscribes to a marker topic of its own, then unsubscribes the session from everything a hub process
  subscribes to, so nothing more is queued there.
- It publishes the marker. Mosquitto delivers a session's messages in order, so every message the session held
  arrives before the marker.
- It hands the device messages to its own ingest as they arrive. Copies of what every process subscribes to
  (command responses, instance reports, notices) are acknowledged and dropped: the live processes had them.
- Once the marker is in and every message handled, it disconnects and forgets the lease.

If the process comes back meanwhile, its connect closes the adopter's (same client id). What the adopter had not
acknowledged goes to the process, which subscribes again on connect. The adopter's lease runs out within ``ttl_s``,
and the process takes it back at its next renewal. An adoption that did not finish (a message that failed, the
broker gone) leaves the lease to run out, and a later sweep tries again. When the whole hub stops, the last process
leaves its session subscribed: the broker keeps the devices' messages until the hub is back.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TypeVar

from contracts.topics import ROOT
from hub.broker.mosquitto.adapter import REGISTRY_NOTICE, DeviceMessages, shared_kind, subscriptions_of
from hub.broker.mosquitto.link import BrokerAddress, MqttLink
from hub.clock import now_ms
from hub.errors import ConfigError, FieldhubError
from hub.leader import Leadership, LeasePolicy
from hub.metrics import Metrics
from hub.store.leases import LeaseStore

log = logging.getLogger(__name__)

PREFIX = "mqtt-session:"
T = TypeVar("T")


def session_lease(leases: LeaseStore, client_id: str, holder: str, policy: LeasePolicy) -> Leadership:
    """The lease that says this process's session is in use, held while it runs (``async with``)."""

    async def nothing(_: AsyncExitStack) -> None:
        """Holding the lease is all there is to it."""

    return Leadership(
        leases, holder, nothing, policy, lease=PREFIX + client_id, work=f"its claim on the MQTT session {client_id}"
    )


@dataclass(slots=True)
class _Adoption:
    """One takeover in progress: the marker that ends it, and the messages still being handled."""

    marker: str
    arrived: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    in_hand: int = 0
    stored: int = 0
    failed: int = 0


class SessionAdoption:
    """Run by the leader (:meth:`run`): adopts the sessions whose lease lapsed, one at a time."""

    def __init__(
        self,
        leases: LeaseStore,
        holder: str,
        address: BrokerAddress,
        own_client_id: str,
        messages: DeviceMessages,
        *,
        metrics: Metrics,
        group: str,
        policy: LeasePolicy | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._leases = leases
        self._holder = holder
        self._address = address
        self._own = PREFIX + own_client_id
        self._messages = messages
        self._metrics = metrics
        # Everything any hub process's session may be subscribed to (an API process's is the widest).
        self._subscriptions = subscriptions_of(group, serves_api=True, administer=True)
        self._policy = policy or LeasePolicy()
        self._clock = clock

    async def run(self) -> None:
        """Sweep every ``renew_s`` until cancelled."""
        while True:
            try:
                await self.sweep()
            except FieldhubError as exc:  # the store or the broker away for a moment: the next sweep tries again
                log.warning("adopting the MQTT sessions of stopped hub processes failed: %s", exc.message)
            await asyncio.sleep(self._policy.renew_s)

    async def sweep(self) -> int:
        """Adopt every session whose lease lapsed now; return how many were emptied."""
        emptied = 0
        for lease in await self._leases.lapsed(PREFIX, self._clock()):
            if lease.name == self._own:
                continue  # this process's own, lapsed while the store was away: it renews it itself
            now = self._clock()
            if not await self._leases.acquire(lease.name, self._holder, now, now + int(self._policy.ttl_s * 1000)):
                continue  # its process is back, or another adopter has it
            client_id = lease.name.removeprefix(PREFIX)
            if await self._adopt(client_id):
                await self._leases.forget(lease.name, self._holder)
                self._metrics.sessions_adopted.inc()
                emptied += 1
        return emptied

    async def _adopt(self, client_id: str) -> bool:
        """Take the session over, empty it and unsubscribe it; whether all of that happened."""
        # Under the registry notices, which only hub accounts may use; "~" is in no device id.
        adoption = _Adoption(f"{ROOT}/~adoption-{secrets.token_hex(6)}/{REGISTRY_NOTICE}")
        adoption.idle.set()

        async def on_message(topic: str, payload: bytes, qos: int) -> None:
            await self._on_message(adoption, topic, payload, qos)

        link = MqttLink(self._address, client_id, [adoption.marker], on_message, reconnect=False)
        try:
            async with link:
                await _unless_lost(link, link.unsubscribe(self._subscriptions))
                await _unless_lost(link, link.publish(adoption.marker, b"", qos=1))
                await _unless_lost(link, asyncio.shield(adoption.arrived))
                await _unless_lost(link, adoption.idle.wait())
                await _unless_lost(link, link.unsubscribe([adoption.marker]))
        except (ConnectionError, ConfigError) as exc:
            # Back under its client id (its connect closed ours), or the broker away: not finished.
            log.warning("taking over the MQTT session %s stopped: %s", client_id, exc)
            return False
        if adoption.failed:
            log.warning("%d message(s) of the MQTT session %s failed; trying again later", adoption.failed, client_id)
            return False
        log.info(
            "took over the MQTT session %s of a stopped hub process: %d device message(s) handed on, unsubscribed",
            client_id,
            adoption.stored,
        )
        return True

    async def _on_message(self, adoption: _Adoption, topic: str, payload: bytes, qos: int) -> None:
        if topic == adoption.marker:
            if not adoption.arrived.done():
                adoption.arrived.set_result(None)
            return
        parts = topic.split("/", 2)
        if len(parts) != 3 or parts[0] != ROOT or not shared_kind(parts[2]):
            return  # a copy of what every hub process subscribes to: the live ones had it
        adoption.in_hand += 1
        adoption.idle.clear()
        try:
            await self._messages(parts[1], topic, payload, qos)
            adoption.stored += 1
            self._metrics.adopted_messages.inc()
        except Exception:
            adoption.failed += 1  # not acknowledged (the link logs it): the session keeps it for the next try
            raise
        finally:
            adoption.in_hand -= 1
            if adoption.in_hand == 0:
                adoption.idle.set()


async def _unless_lost(link: MqttLink, step: Awaitable[T]) -> T:
    """``step``'s result, or ConnectionError if the link's connection is gone first."""
    work = asyncio.ensure_future(step)
    lost = asyncio.ensure_future(link.wait_lost())
    try:
        await asyncio.wait((work, lost), return_when=asyncio.FIRST_COMPLETED)
    finally:
        lost.cancel()
    if not work.done():
        work.cancel()
        raise ConnectionError("the broker closed the session (its process is back, or the broker went away)")
    return work.result()

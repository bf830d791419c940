"""The hub's side of a Mosquitto broker: reads what devices send, publishes downlink, tracks presence.

Device messages arrive through a shared subscription (``$share/<group>/...``), so several
processes (``fieldhub up`` and ``fieldhub serve --role ingest`` replicas) split the load; each is
acknowledged to the broker only once handled, and the store drops redeliveries by sequence
number. Command responses, account answers and the broker's connect/disconnect log lines reach
the ``fieldhub up`` process alone, which is the one that waits for them.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

from contracts.errors import AuthRefusal
from contracts.topics import ROOT, TopicKind
from hub.broker.base import DeviceIdentity, InboundHandler
from hub.broker.mosquitto.dynsec import RESPONSE_TOPIC, DynsecControl
from hub.broker.mosquitto.link import BrokerAddress, LinkFactory, MqttLink
from hub.errors import FieldhubError
from hub.logutil import RateLimitedLog
from hub.metrics import Metrics
from hub.presence import Presence
from hub.store.base import Store

log = logging.getLogger(__name__)

#: Mosquitto publishes its notice-level log lines here when configured with ``log_dest topic``.
LOG_TOPIC = "$SYS/broker/log/N"
_SHARED_KINDS = (
    TopicKind.TELEMETRY,
    TopicKind.STATUS,
    TopicKind.STATE_REPORTED,
    TopicKind.HEARTBEAT,
    TopicKind.LOGS,
)
_CONNECTED = re.compile(r"^(?:\d+: )?New client connected from \S+ as \S+ \(.*\bu'([^']+)'\)")
_GONE = re.compile(
    r"^(?:\d+: )?(?:Client (\S+) (?:closed its connection|disconnected\.|been disconnected|has exceeded timeout"
    r"|already connected)|Socket error on client (\S+), disconnecting)"
)


def presence_event(line: str) -> tuple[str, bool] | None:
    """``(client, connected)`` for a Mosquitto log line about a session starting or ending.

    Mosquitto names the username when a session starts and the client id when it ends; the
    plugin makes them the same for devices. A refused login ("disconnected, not authorised")
    is not the end of a session and is ignored.
    """
    if match := _CONNECTED.match(line):
        return match.group(1), True
    if match := _GONE.match(line):
        return match.group(1) or match.group(2), False
    return None


class Identities:
    """Device id -> identity, cached: the broker already authenticated the sender.

    Lookups in progress are shared, so a burst from a device not seen yet costs one query.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._known: dict[str, asyncio.Future[DeviceIdentity | None]] = {}

    async def resolve(self, device_id: str) -> DeviceIdentity | None:
        known = self._known.get(device_id)
        if known is None:
            known = self._known[device_id] = asyncio.ensure_future(self._lookup(device_id))
        elif known.done() and not known.cancelled() and known.exception() is None:
            return known.result()  # the usual case, without a shield per message
        try:
            return await asyncio.shield(known)
        except BaseException:
            if known.done():
                self._known.pop(device_id, None)  # a failed lookup is tried again next time
            raise

    async def _lookup(self, device_id: str) -> DeviceIdentity | None:
        record = await self._store.get_device_secret(device_id)
        if record is None:
            self._known.pop(device_id, None)  # it may be registered later
            return None
        return DeviceIdentity(device_id, record.tenant)

    def forget(self, device_id: str) -> None:
        self._known.pop(device_id, None)


class MosquittoBroker:
    """Implements Publisher and SessionControl on one :class:`MqttLink`; ``async with`` runs it.

    The process that owns the API (``fieldhub up``) passes ``presence`` and ``administer``
    (it then changes accounts through :attr:`control`); an ingest replica leaves them out and
    takes only its share of device messages.
    """

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str,
        handler: InboundHandler,
        identities: Identities,
        metrics: Metrics,
        *,
        group: str = "fieldhub",
        presence: Presence | None = None,
        administer: bool = False,
        resync: Callable[[], Awaitable[object]] | None = None,
        link: LinkFactory = MqttLink,
    ) -> None:
        self._handler = handler
        self._identities = identities
        self._metrics = metrics
        self._presence = presence
        self._control = DynsecControl(self.publish, lambda: self._link.is_connected) if administer else None
        self._log = RateLimitedLog(log)
        # Each message is handled in a task of its own: the lock keeps connects and disconnects in order.
        self._presence_order = asyncio.Lock()
        subscriptions = [f"$share/{group}/{ROOT}/+/{kind.value}" for kind in _SHARED_KINDS]
        if presence is not None:
            subscriptions += [f"{ROOT}/+/commands/+/response", LOG_TOPIC]
        if administer:
            subscriptions.append(RESPONSE_TOPIC)
        self._resync = resync
        self._resyncing: asyncio.Task[None] | None = None
        self._link = link(address, client_id, subscriptions, self._on_message, self._reconnected)

    async def __aenter__(self) -> Self:
        await self._link.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._resyncing is not None:
            self._resyncing.cancel()
        await self._link.__aexit__(exc_type, exc, tb)

    def _reconnected(self) -> None:
        if self._resync is not None and (self._resyncing is None or self._resyncing.done()):
            self._resyncing = asyncio.get_running_loop().create_task(self._run_resync())

    async def _run_resync(self) -> None:
        assert self._resync is not None
        try:
            await self._resync()
        except FieldhubError as exc:
            log.error("bringing the broker in step after a reconnect failed: %s", exc.message)  # noqa: TRY400

    @property
    def link_up(self) -> bool:
        """Whether the connection to the broker is up now."""
        return self._link.is_connected

    @property
    def control(self) -> DynsecControl:
        if self._control is None:
            raise RuntimeError("this broker link does not administer accounts")
        return self._control

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        await self._link.publish(topic, payload, qos=qos, retain=retain)

    async def disconnect_device(self, device_id: str) -> int:
        # The plugin already closed the sessions when the account changed (see DynsecAccounts).
        self._identities.forget(device_id)
        return 0

    def is_connected(self, device_id: str) -> bool:
        return self._presence is not None and self._presence.is_online(device_id)

    async def _on_message(self, topic: str, payload: bytes, qos: int) -> None:
        if topic == RESPONSE_TOPIC:
            if self._control is not None:
                self._control.on_response(payload)
            return
        if topic == LOG_TOPIC:
            await self._on_log(payload.decode(errors="replace"))
            return
        # Subscriptions are devices/+/<kind>: the device id is the second level. The router checks the
        # whole topic once; parsing it here as well would do that work twice per message.
        device_id = topic.split("/", 2)[1]
        identity = await self._identities.resolve(device_id)
        if identity is None:
            # Sent before the device was deleted; nobody to store it for.
            self._metrics.auth_refused_by[AuthRefusal.UNKNOWN_DEVICE].inc()
            self._log.warning(f"unknown:{device_id}", "dropped a message of unknown device %s", device_id)
            return
        await self._handler.on_message(identity, topic, payload, stored=qos > 0)

    async def _on_log(self, line: str) -> None:
        event = presence_event(line)
        if event is None or self._presence is None:
            return
        async with self._presence_order:
            identity = await self._identities.resolve(event[0])
            if identity is None:
                return
            if event[1]:
                self._metrics.connections.inc()
                await self._handler.on_connect(identity)
            else:
                await self._handler.on_disconnect(identity)

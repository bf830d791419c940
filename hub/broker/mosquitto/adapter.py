"""The hub's side of a Mosquitto broker: reads what devices send and publishes downlink.

Device messages arrive through a shared subscription (``$share/<group>/...``), so several
processes (``fieldhub up`` and ``fieldhub serve --role ingest`` replicas) split the load; each is
acknowledged to the broker only once handled, and the store drops redeliveries by sequence
number. Device status messages (and last wills) come the same way: whichever process gets one
stores it (see :mod:`hub.presence`). Command responses and nodes' app reports reach every process that serves the API
(each subscribes to all of them), and account answers the process that administers accounts.

Registry notices keep every process's cache of device identities true: when a device is
disabled, rotated or deleted, the process that changed it publishes ``devices/{id}/registry``,
a topic devices can neither publish nor subscribe to, and every hub process forgets the device.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

from contracts.errors import AuthRefusal
from contracts.topics import ROOT, TopicKind
from hub.broker.base import DeviceIdentity, InboundHandler
from hub.broker.mosquitto.dynsec import RESPONSE_TOPIC, DynsecControl
from hub.broker.mosquitto.link import BrokerAddress, LinkFactory, MqttLink
from hub.errors import FieldhubError
from hub.logutil import RateLimitedLog
from hub.metrics import Metrics
from hub.store.registry import RegistryStore
from hub.tasks import Background

log = logging.getLogger(__name__)

_SHARED_KINDS = (
    TopicKind.TELEMETRY,
    TopicKind.STATUS,
    TopicKind.STATE_REPORTED,
    TopicKind.HEARTBEAT,
    TopicKind.LOGS,
)
_SHARED_KIND_VALUES = frozenset(kind.value for kind in _SHARED_KINDS)
#: Where a hub process says that a device changed (the suffix is no topic kind of the device contract).
REGISTRY_NOTICE = "registry"


class Identities:
    """Device id -> identity, cached: the broker already authenticated the sender.

    A device's messages must reach ingest in the order the broker delivered them (arrival order
    decides the order of readings the hub stamps, and of each device's records in the streams).
    While a device's identity is being looked up, its next messages wait for the same lookup and
    resume in their order; a message arriving while those still wait to resume yields once, so it
    cannot overtake them. Once every waiter has passed, no message waits at all.
    """

    def __init__(self, store: RegistryStore) -> None:
        self._store = store
        self._known: dict[str, DeviceIdentity] = {}
        # Devices being looked up (or whose waiters have not all resumed): the lookup's result, and how many wait.
        self._lookups: dict[str, list[Any]] = {}

    async def resolve(self, device_id: str) -> DeviceIdentity | None:
        known = self._known.get(device_id)
        entry = self._lookups.get(device_id)
        if known is not None and entry is None:
            return known  # the usual case, without a wait
        if entry is None:
            return await self._look_up(device_id)
        result: asyncio.Future[DeviceIdentity | None] = entry[0]
        entry[1] += 1
        try:
            if result.done():
                await asyncio.sleep(0)  # behind the waiters woken before this message arrived
            return await result
        finally:
            self._passed(device_id, entry)

    async def _look_up(self, device_id: str) -> DeviceIdentity | None:
        """The first message of a device not known: look it up, and let the ones behind it wait for that."""
        result: asyncio.Future[DeviceIdentity | None] = asyncio.get_running_loop().create_future()
        entry: list[Any] = [result, 1]
        self._lookups[device_id] = entry
        try:
            record = await self._store.get_device_secret(device_id)
        except BaseException as exc:
            result.set_exception(exc)
            result.exception()  # retrieved here: the waiters raise it themselves
            raise
        finally:
            self._passed(device_id, entry)
        identity = None if record is None else DeviceIdentity(device_id, record.tenant)
        if identity is not None:
            self._known[device_id] = identity  # unknown devices are not cached: they may be registered later
        result.set_result(identity)
        return identity

    def _passed(self, device_id: str, entry: list[Any]) -> None:
        entry[1] -= 1
        if entry[1] == 0 and self._lookups.get(device_id) is entry:
            del self._lookups[device_id]

    def forget(self, device_id: str) -> None:
        self._known.pop(device_id, None)

    def forget_all(self) -> None:
        """After a reconnect: notices may have been missed while the link was down."""
        self._known.clear()


def subscriptions_of(group: str, *, serves_api: bool, administer: bool) -> list[str]:
    """What a hub process's session subscribes to: its share of the device messages, and what it must see."""
    subscriptions = [f"$share/{group}/{ROOT}/+/{kind.value}" for kind in _SHARED_KINDS]
    subscriptions.append(f"{ROOT}/+/{REGISTRY_NOTICE}")
    if serves_api:
        subscriptions.append(f"{ROOT}/+/commands/+/response")
        # Every API process gets every instance report; the leader applies them (hub/deploy/instances.py).
        subscriptions.append(f"{ROOT}/+/{TopicKind.APPS.value}")
    if administer:
        subscriptions.append(RESPONSE_TOPIC)
    return subscriptions


def shared_kind(kind: str) -> bool:
    """Whether a topic's kind (what follows ``devices/<id>/``) comes through the shared subscription."""
    return kind in _SHARED_KIND_VALUES


class DeviceMessages:
    """Hands a device's message to the hub with the device's identity (the broker authenticated the sender)."""

    def __init__(self, handler: InboundHandler, identities: Identities, metrics: Metrics) -> None:
        self._handler = handler
        self._identities = identities
        self._metrics = metrics
        self._log = RateLimitedLog(log)

    async def __call__(self, device_id: str, topic: str, payload: bytes, qos: int) -> None:
        identity = await self._identities.resolve(device_id)
        if identity is None:
            # Sent before the device was deleted; nobody to store it for.
            self._metrics.auth_refused_by[AuthRefusal.UNKNOWN_DEVICE].inc()
            self._log.warning(f"unknown:{device_id}", "dropped a message of unknown device %s", device_id)
            return
        await self._handler.on_message(identity, topic, payload, stored=qos > 0)


class MosquittoBroker:
    """Implements Publisher and SessionControl on one :class:`MqttLink`; ``async with`` runs it.

    A process that serves the API passes ``serves_api`` (it gets every command response) and the
    one that changes accounts ``administer`` (through :attr:`control`); an ingest replica leaves
    both out and takes only its share of device messages.
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
        serves_api: bool = False,
        administer: bool = False,
        resync: Callable[[], Awaitable[object]] | None = None,
        link: LinkFactory = MqttLink,
    ) -> None:
        self._identities = identities
        self._messages = DeviceMessages(handler, identities, metrics)
        self._control = DynsecControl(self.publish, lambda: self._link.is_connected) if administer else None
        subscriptions = subscriptions_of(group, serves_api=serves_api, administer=administer)
        self._resync = resync
        self._resyncing: asyncio.Task[None] | None = None
        self._background = Background()
        self._link = link(address, client_id, subscriptions, self._on_message, self._reconnected)

    async def __aenter__(self) -> Self:
        await self._background.open()
        try:
            await self._link.__aenter__()
        except BaseException:
            await self._background.close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._background.close()  # a resync in progress
        await self._link.__aexit__(exc_type, exc, tb)

    def _reconnected(self) -> None:
        self._identities.forget_all()
        if self._resync is not None and (self._resyncing is None or self._resyncing.done()):
            self._resyncing = self._background.spawn(self._run_resync(), name="broker-resync")

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
        await self.publish(f"{ROOT}/{device_id}/{REGISTRY_NOTICE}", b"", qos=1)
        return 0

    async def _on_message(self, topic: str, payload: bytes, qos: int) -> None:
        if topic == RESPONSE_TOPIC:
            if self._control is not None:
                self._control.on_response(payload)
            return
        # Subscriptions are devices/+/<kind>: the device id is the second level. The router checks the
        # whole topic once; parsing it here as well would do that work twice per message.
        _, device_id, kind = topic.split("/", 2)
        if kind == REGISTRY_NOTICE:
            self._identities.forget(device_id)
            return
        await self._messages(device_id, topic, payload, qos)

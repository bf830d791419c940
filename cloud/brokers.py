"""The hub's MQTT brokers by name (``broker`` / ``--broker``), each with how ``fieldhub up`` starts it.

A broker kind says how it is started (with what the hub hands it) and what it tells the hub: the
embedded broker sees every session, Mosquitto none (devices then say themselves, see
:mod:`hub.presence`); a broker started with the hub has no sessions yet, an external one may.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit

from cloud.identity.tokens import load_or_create_key
from cloud.settings import HubSettings, ProcessSettings
from contracts.errors import AuthRefusal
from hub.backends import BackendRegistry
from hub.broker.base import BrokerAccounts, InboundHandler, TlsListener
from hub.broker.bridge import AmqttBridge
from hub.broker.embedded import EmbeddedBroker
from hub.broker.mosquitto.adapter import DeviceMessages, Identities, MosquittoBroker
from hub.broker.mosquitto.dynsec import DynsecAccounts
from hub.broker.mosquitto.link import BrokerAddress, LinkFactory
from hub.broker.mosquitto.managed import ManagedMosquitto
from hub.broker.mosquitto.sessions import SessionAdoption, session_lease
from hub.metrics import Metrics
from hub.security.device_auth import DeviceAuthenticator
from hub.store.leases import LeaseStore
from hub.store.registry import RegistryStore


@dataclass(frozen=True, slots=True)
class BrokerContext:
    """What a broker is started with; what it starts is closed by ``stack``."""

    settings: HubSettings
    stack: AsyncExitStack
    devices: RegistryStore
    router: InboundHandler
    authenticator: DeviceAuthenticator
    metrics: Metrics
    link: LinkFactory
    leases: LeaseStore
    #: This process's name in the store's leases.
    holder: str


@dataclass(frozen=True, slots=True)
class StartedBroker:
    broker: EmbeddedBroker | MosquittoBroker
    #: Accounts to keep in step with the registry, for a broker that checks credentials itself.
    accounts: BrokerAccounts | None
    ports: tuple[int, int | None]
    #: Whether the hub's own connection to the broker is up (None: the broker runs in the hub).
    link_up: Callable[[], bool] | None
    #: What the leader runs to take over the sessions of stopped hub processes (a broker with sessions of several).
    adoption: SessionAdoption | None = None


@dataclass(frozen=True, slots=True)
class BrokerKind:
    sees_sessions: bool
    starts_with_hub: bool
    start: Callable[[BrokerContext], Awaitable[StartedBroker]]


BROKERS: BackendRegistry[BrokerKind] = BackendRegistry("broker")


def tls_listener(s: HubSettings) -> TlsListener | None:
    if s.mqtts_port is not None and s.tls_cert_file is not None and s.tls_key_file is not None:
        return TlsListener(s.mqtts_port, s.tls_cert_file, s.tls_key_file)
    return None


def broker_address(settings: ProcessSettings) -> BrokerAddress:
    """The external broker of ``settings`` (mqtt[s]://host:port) with the hub's account."""
    parts = urlsplit(settings.broker)
    account = settings.mosquitto
    assert parts.hostname is not None and parts.port is not None and account.password is not None
    return BrokerAddress(
        parts.hostname,
        parts.port,
        account.username,
        account.password.get_secret_value(),
        tls=parts.scheme == "mqtts",
        ca_file=str(account.ca_file) if account.ca_file else None,
    )


async def _start_embedded(ctx: BrokerContext) -> StartedBroker:
    s = ctx.settings
    bridge = AmqttBridge(ctx.authenticator, ctx.router, ctx.metrics)
    broker = await ctx.stack.enter_async_context(
        EmbeddedBroker(bridge, s.host, s.mqtt_port, ctx.metrics, s.embedded.limits(s.ingest), tls=tls_listener(s))
    )
    return StartedBroker(broker, None, (broker.port, broker.tls_port), None)


async def _start_managed(ctx: BrokerContext) -> StartedBroker:
    s = ctx.settings
    password = load_or_create_key(s.data_dir / "mosquitto" / "service.secret")
    managed = await ctx.stack.enter_async_context(
        ManagedMosquitto(
            s.data_dir / "mosquitto",
            s.host,
            s.mqtt_port,
            service_user=s.mosquitto.username,
            service_password=password,
            devices=await ctx.devices.list_device_secrets(),
            tls=tls_listener(s),
            binary=s.mosquitto.binary,
            refused=ctx.metrics.auth_refused_by[AuthRefusal.BROKER].inc,
        )
    )
    address = BrokerAddress(s.local_host, managed.port, s.mosquitto.username, password)
    # A managed broker starts from the registry's accounts and restarts only with the hub.
    broker, accounts, adoption = await _link_to_mosquitto(ctx, address, resync=False)
    return StartedBroker(broker, accounts, (managed.port, managed.tls_port), lambda: broker.link_up, adoption)


async def _start_external(ctx: BrokerContext) -> StartedBroker:
    address = broker_address(ctx.settings)
    broker, accounts, adoption = await _link_to_mosquitto(ctx, address, resync=True)
    # An external one may have lost or missed changes: brought in step now, and after every reconnect.
    await accounts.reconcile(ctx.devices)
    return StartedBroker(broker, accounts, (address.port, None), lambda: broker.link_up, adoption)


async def _link_to_mosquitto(
    ctx: BrokerContext, address: BrokerAddress, *, resync: bool
) -> tuple[MosquittoBroker, DynsecAccounts, SessionAdoption]:
    s = ctx.settings
    client_id = f"fieldhub-{s.replica_id}"
    policy = s.leader.policy()
    # Held from before the session opens until after it closed: while held, no leader takes the session over.
    await ctx.stack.enter_async_context(session_lease(ctx.leases, client_id, ctx.holder, policy))
    accounts: DynsecAccounts | None = None
    identities = Identities(ctx.devices)

    async def reconcile() -> int:
        assert accounts is not None
        return await accounts.reconcile(ctx.devices)

    broker = MosquittoBroker(
        address,
        client_id,
        ctx.router,
        identities,
        ctx.metrics,
        group=s.mosquitto.group,
        serves_api=True,
        administer=True,
        resync=reconcile if resync else None,
        link=ctx.link,
    )
    await ctx.stack.enter_async_context(broker)
    accounts = DynsecAccounts(broker.control)
    messages = DeviceMessages(ctx.router, identities, ctx.metrics)
    adoption = SessionAdoption(
        ctx.leases,
        ctx.holder,
        address,
        client_id,
        messages,
        metrics=ctx.metrics,
        group=s.mosquitto.group,
        policy=policy,
    )
    return broker, accounts, adoption


@BROKERS.register("embedded", "amqtt inside the hub process; the default", "embedded")
def _embedded(_url: str) -> BrokerKind:
    return BrokerKind(sees_sessions=True, starts_with_hub=True, start=_start_embedded)


@BROKERS.register("mosquitto", "a Mosquitto 2 the hub runs as a child process", "mosquitto")
def _managed(_url: str) -> BrokerKind:
    return BrokerKind(sees_sessions=False, starts_with_hub=True, start=_start_managed)


@BROKERS.register("mqtt", "an external Mosquitto 2 with dynamic security", "mqtt://host:1883")
@BROKERS.register("mqtts", "the same over TLS (mosquitto.ca_file to verify it)", "mqtts://host:8883")
def _external(_url: str) -> BrokerKind:
    return BrokerKind(sees_sessions=False, starts_with_hub=False, start=_start_external)

"""The composition root of ``fieldhub up``: builds every component once and owns their lifetime.

Start order is store -> ingest -> broker -> HTTP; leaving the block stops them in reverse,
so the broker hands over everything it acknowledged before ingest flushes to the store.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from urllib.parse import urlsplit

from cloud.api.app import create_app
from cloud.http_server import serve_http
from cloud.identity.provisioning import Provisioning
from cloud.identity.tokens import TokenService, load_or_create_key
from cloud.identity.users import UserDirectory
from cloud.lifetime import Lifetime
from cloud.services import Services
from cloud.settings import HubSettings
from hub.broker.base import BrokerAccounts
from hub.broker.bridge import AmqttBridge
from hub.broker.embedded import EmbeddedBroker, TlsListener
from hub.broker.mosquitto.adapter import Identities, MosquittoBroker
from hub.broker.mosquitto.dynsec import DynsecAccounts
from hub.broker.mosquitto.link import BrokerAddress
from hub.broker.mosquitto.managed import ManagedMosquitto
from hub.commands import CommandBus
from hub.errors import ConfigError, SinkUnavailable
from hub.ingest.pipeline import IngestPipeline
from hub.live import LiveFeed
from hub.metrics import Metrics
from hub.nodes import NodeService
from hub.presence import Presence
from hub.registry import DEFAULT_TENANT, DeviceRegistry
from hub.router import InboundRouter
from hub.security.device_auth import DeviceAuthenticator
from hub.state import StateService
from hub.store.base import Store
from hub.store.factory import open_store
from hub.streams.factory import build_sink

log = logging.getLogger(__name__)


def broker_address(settings: HubSettings) -> BrokerAddress:
    """The external broker of ``settings`` (mqtt[s]://host:port) with the hub's account."""
    parts = urlsplit(settings.broker)
    assert parts.hostname is not None and parts.port is not None and settings.broker_password is not None
    return BrokerAddress(
        parts.hostname,
        parts.port,
        settings.broker_username,
        settings.broker_password.get_secret_value(),
        tls=parts.scheme == "mqtts",
        ca_file=str(settings.broker_ca_file) if settings.broker_ca_file else None,
    )


async def start_pipeline(stack: AsyncExitStack, s: HubSettings, store: Store, metrics: Metrics) -> IngestPipeline:
    """Open the configured streams and the ingest pipeline writing to ``store`` and them; ``stack`` closes them."""
    sinks = [build_sink(url) for url in s.stream]
    for sink in sinks:
        try:
            await sink.open()
        except SinkUnavailable as exc:
            raise ConfigError(exc.message) from None
        stack.push_async_callback(sink.close)
        log.info("telemetry also goes to %s", sink.name)
    pipeline = IngestPipeline(
        store,
        metrics,
        s.ingest.limits(),
        queue_size=s.ingest.queue_size,
        max_batch_points=s.ingest.max_batch_points,
        sinks=sinks,
    )
    return await stack.enter_async_context(pipeline)


class HubRuntime(Lifetime):
    """Everything of ``fieldhub up`` in one process; ``async with`` starts and stops it."""

    def __init__(self, settings: HubSettings) -> None:
        super().__init__()
        self.settings = settings
        self.generated_admin_password: str | None = None
        self._services: Services | None = None
        self._ports: tuple[int, int | None] | None = None
        self._http_port: int | None = None

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("hub is not running")
        return self._services

    @property
    def mqtt_port(self) -> int:
        if self._ports is None:
            raise RuntimeError("hub is not running")
        return self._ports[0]

    @property
    def mqtts_port(self) -> int | None:
        if self._ports is None:
            raise RuntimeError("hub is not running")
        return self._ports[1]

    @property
    def http_port(self) -> int:
        if self._http_port is None:
            raise RuntimeError("hub is not running")
        return self._http_port

    @property
    def url(self) -> str:
        return self.settings.http_url(self.http_port)

    async def _start(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        store = open_store(s.store_url)
        await store.open()
        self._stack.push_async_callback(store.close)

        metrics = Metrics()
        authenticator = DeviceAuthenticator(store, metrics)
        self._stack.callback(authenticator.close)
        registry = DeviceRegistry(store, authenticator, s.hash_params)
        await registry.ensure_tenant(DEFAULT_TENANT, "Default")
        users = UserDirectory(store, s.hash_params)
        admin_password = s.admin_password.get_secret_value() if s.admin_password else None
        self.generated_admin_password = await users.ensure_admin(admin_password, reset=s.demo)
        key = s.secret_key.get_secret_value() if s.secret_key else load_or_create_key(s.data_dir / "secret.key")

        live = LiveFeed(metrics)
        pipeline = await start_pipeline(self._stack, s, store, metrics)
        pipeline.add_listener(live.publish)

        presence = Presence(store, metrics)
        await presence.reset()
        state = StateService(store)
        commands = CommandBus(metrics)
        nodes = NodeService(store, metrics)
        router = InboundRouter(pipeline, presence, state, commands, nodes)
        broker: EmbeddedBroker | MosquittoBroker
        accounts: BrokerAccounts | None = None
        if s.broker == "embedded":
            broker = await self._start_embedded(authenticator, router, metrics)
        else:
            broker, accounts = await self._start_mosquitto(store, router, metrics, presence)
        presence.attach(broker)
        state.attach(broker)
        commands.attach(broker, broker)
        registry.attach(broker, accounts)
        republished = await state.republish()
        if republished:
            log.info("republished desired state of %d device(s)", republished)

        self._services = Services(
            settings=s,
            store=store,
            metrics=metrics,
            registry=registry,
            users=users,
            tokens=TokenService(key, s.token_ttl_s),
            state=state,
            commands=commands,
            live=live,
            pipeline=pipeline,
            nodes=nodes,
            authenticator=authenticator,
            provisioning=Provisioning(store, registry, s.hash_params),
            mqtt_port=self.mqtt_port,
            broker_up=(lambda: broker.link_up) if isinstance(broker, MosquittoBroker) else None,
        )
        await self._start_http()

    def _tls(self) -> TlsListener | None:
        s = self.settings
        if s.mqtts_port is not None and s.tls_cert_file is not None and s.tls_key_file is not None:
            return TlsListener(s.mqtts_port, s.tls_cert_file, s.tls_key_file)
        return None

    async def _start_embedded(
        self, authenticator: DeviceAuthenticator, router: InboundRouter, metrics: Metrics
    ) -> EmbeddedBroker:
        s = self.settings
        bridge = AmqttBridge(authenticator, router, metrics)
        broker = await self._stack.enter_async_context(EmbeddedBroker(bridge, s.host, s.mqtt_port, tls=self._tls()))
        self._ports = (broker.port, broker.tls_port)
        return broker

    async def _start_mosquitto(
        self, store: Store, router: InboundRouter, metrics: Metrics, presence: Presence
    ) -> tuple[MosquittoBroker, BrokerAccounts]:
        s = self.settings
        if s.external_broker:
            address = broker_address(s)
            self._ports = (address.port, None)
        else:
            password = load_or_create_key(s.data_dir / "mosquitto" / "service.secret")
            managed = await self._stack.enter_async_context(
                ManagedMosquitto(
                    s.data_dir / "mosquitto",
                    s.host,
                    s.mqtt_port,
                    service_user=s.broker_username,
                    service_password=password,
                    devices=await store.list_device_secrets(),
                    tls=self._tls(),
                    binary=s.mosquitto_binary,
                )
            )
            self._ports = (managed.port, managed.tls_port)
            address = BrokerAddress(s.local_host, managed.port, s.broker_username, password)
        broker = MosquittoBroker(
            address,
            f"fieldhub-{s.replica_id}",
            router,
            Identities(store),
            metrics,
            group=s.ingest_group,
            presence=presence,
            administer=True,
            # A managed broker only restarts with the hub; an external one may lose or miss changes.
            resync=(lambda: accounts.reconcile(store)) if s.external_broker else None,
        )
        await self._stack.enter_async_context(broker)
        accounts = DynsecAccounts(broker.control)
        if s.external_broker:
            # A managed broker starts from the registry; an external one is brought in step now.
            await accounts.reconcile(store)
        return broker, accounts

    async def _start_http(self) -> None:
        self._http_port = await serve_http(
            self._stack, create_app(self.services), self.settings.host, self.settings.http_port
        )
        log.info("HTTP API on %s (docs at /docs)", self.url)

    def _stopped(self) -> None:
        self._services = None
        self._ports = None
        self._http_port = None

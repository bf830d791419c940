"""The composition root of ``fieldhub up``: builds every component once and owns their lifetime.

Start order is store -> blob store -> ingest -> broker -> HTTP; leaving the block stops them in reverse,
so the broker hands over everything it acknowledged before ingest flushes to the store.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from contextlib import AsyncExitStack

from cloud.api.app import create_app
from cloud.api.probes import create_probe_app
from cloud.brokers import BROKERS, BrokerContext
from cloud.duties import LeaderDuties, webhooks_of
from cloud.http_server import serve_http
from cloud.identity.api_keys import ApiKeys
from cloud.identity.guard import SignInGuard
from cloud.identity.ldap import DirectoryProvider
from cloud.identity.providers import SignIn
from cloud.identity.provisioning import Provisioning
from cloud.identity.tokens import TokenService, load_or_create_key
from cloud.identity.users import UserDirectory
from cloud.lifetime import Lifetime
from cloud.services import Services
from cloud.settings import HubSettings, ProcessSettings
from cloud.streams import LEASE as STREAMS_LEASE
from cloud.streams import StreamForwarding, StreamLinks
from contracts.telemetry import Arrivals
from hub.alarms.evaluator import Evaluator
from hub.alarms.lifecycle import AlarmLifecycle
from hub.alarms.rulebook import RuleBook
from hub.alarms.rules import Rules
from hub.apps.catalog import AppCatalog
from hub.audit.service import Audit
from hub.blobs.base import BlobStore
from hub.blobs.factory import open_blob_store
from hub.broker.downlink import Downlink
from hub.broker.mosquitto.link import LinkFactory, MqttLink
from hub.commands import CommandBus
from hub.deploy.deployments import Deployments
from hub.deploy.health import HealthThresholds
from hub.deploy.instances import InstanceReports
from hub.deploy.schedules import Scheduler
from hub.events.service import Events
from hub.follower import Followers
from hub.ingest.pipeline import IngestPipeline, Listener
from hub.leader import Leadership, holder_name
from hub.links.tunnels import Tunnels
from hub.live import LiveFeed
from hub.logs.handler import HubLogHandler
from hub.logs.retention import Retention, RetentionPolicy
from hub.logs.service import LogService
from hub.logs.upkeep import LogUpkeep
from hub.logutil import bounded_accept_errors
from hub.metrics import Metrics
from hub.nodes import NodeService
from hub.notify.channels import Channels
from hub.presence import ReportedPresence, SessionPresence
from hub.profiles.conformance import ProfileCheck
from hub.profiles.service import Profiles
from hub.registry import DEFAULT_TENANT, DeviceRegistry
from hub.router import InboundRouter
from hub.security.device_auth import DeviceAuthenticator
from hub.state import StateService
from hub.store.backend import Backend
from hub.store.factory import open_store
from hub.store.registry import RegistryStore
from hub.tasks import Background

log = logging.getLogger(__name__)


def arrivals_of(replica_id: str) -> Arrivals:
    """The arrival numbers of this process, in a lane chosen by its replica id (see :class:`Arrivals`)."""
    digest = hashlib.blake2b(replica_id.encode(), digest_size=4).digest()
    return Arrivals(int.from_bytes(digest) % Arrivals.LANES)


async def start_pipeline(
    stack: AsyncExitStack,
    s: ProcessSettings,
    store: Backend,
    metrics: Metrics,
    followers: Followers,
    *,
    listeners: Sequence[Listener] = (),
) -> IngestPipeline:
    """The ingest pipeline writing to ``store``, handing what it appends to the outbox to ``listeners``."""
    pipeline = IngestPipeline(
        store.telemetry,
        store.outbox,
        metrics,
        s.ingest.limits(),
        arrivals_of(s.replica_id),
        followers=followers,
        profiles=ProfileCheck(store.profiles, store.registry, metrics),
        queue_size=s.ingest.queue_size,
        max_batch_points=s.ingest.max_batch_points,
        outbox_keep_s=s.ingest.outbox_keep_s,
        cursor_expiry_s=s.ingest.outbox_cursor_expiry_s,
    )
    for listener in listeners:
        pipeline.add_listener(listener)
    return await stack.enter_async_context(pipeline)


async def start_streams(
    stack: AsyncExitStack, s: HubSettings, store: Backend, metrics: Metrics, followers: Followers, *, holder: str
) -> tuple[StreamLinks, StreamForwarding]:
    """This process's connections to the streams, and the outbox forwarding it runs while it holds their lease.

    Entered before the pipeline, so on the way out they stop after it: the forwarders get to send what the
    pipeline flushed to the store at the end (within ``stream_drain_s``).
    """
    links = await stack.enter_async_context(StreamLinks(s.stream))
    forwarding = StreamForwarding(s.stream, store.outbox, metrics, followers, drain_s=s.stream_drain_s)
    if s.stream:
        await stack.enter_async_context(
            Leadership(
                store.leases, holder, forwarding, s.leader.policy(), lease=STREAMS_LEASE, work="the stream forwarding"
            )
        )
    return links, forwarding


async def start_alarms(
    stack: AsyncExitStack,
    store: Backend,
    events: Events,
    *,
    metrics: Metrics,
    pipeline: IngestPipeline,
    nodes: NodeService,
) -> tuple[RuleBook, AlarmLifecycle]:
    """Evaluate the alarm rules on what ``pipeline`` stores and on the heartbeats ``nodes`` keeps (no-data alarms
    and the alarms' retention are the leader's: :mod:`cloud.duties`)."""
    book = RuleBook(store.alarms, store.registry, store.profiles)
    lifecycle = AlarmLifecycle(store.alarms, events, metrics)
    evaluator = Evaluator(book, lifecycle, store.alarms, metrics)
    await book.reload()
    await lifecycle.load()
    await evaluator.load()
    tasks = Background()
    await tasks.open()
    stack.push_async_callback(tasks.close)
    tasks.spawn(book.run(), name="alarm-rules")
    tasks.spawn(lifecycle.run(), name="open-alarms")
    tasks.spawn(evaluator.run(), name="alarm-evaluator")
    tasks.spawn(evaluator.sweep(), name="alarm-timers")
    pipeline.add_observer(evaluator.offer)
    nodes.add_observer(evaluator.offer_heartbeat)
    return book, lifecycle


def channels_of(s: HubSettings, store: Backend) -> Channels:
    """The tenants' notification channels, refusing kinds this hub cannot send to (the leader's dispatcher
    sends: :mod:`cloud.duties`)."""
    return Channels(
        store.channels, store.registry, email_available=s.smtp.host is not None, streams_available=bool(s.stream)
    )


def log_upkeep(s: HubSettings, logs: LogService, blobs: BlobStore, tenants: RegistryStore) -> LogUpkeep:
    """The hub's own records into the log store, and its retention, as the settings say."""
    section = s.logs
    handler = None
    if section.hub_lines_per_s > 0:
        handler = HubLogHandler(s.replica_id, logging.getLevelName(section.hub_level), section.hub_lines_per_s)
    policy = RetentionPolicy(
        section.retention_days, section.max_lines, section.retention_interval_s, archive=section.archive
    )
    return LogUpkeep(logs, handler, Retention(logs.store, blobs, policy, tenants=tenants))


async def start_audit(
    stack: AsyncExitStack, s: HubSettings, store: Backend, links: StreamLinks
) -> tuple[Audit, SignInGuard]:
    """The audit trail, writing what this process stores to the streams too, and login protection, as the
    settings say."""
    audit = Audit(
        store.audit,
        sinks=links.sinks,
        retention=s.audit.retention(),
        queue_size=s.audit.queue,
        drain_s=s.stream_drain_s,
    )
    # Entered after the streams: it stops, storing what is left, before they close.
    await stack.enter_async_context(audit)
    guard = await stack.enter_async_context(SignInGuard(store.sign_ins, s.login.policy()))
    return audit, guard


async def republish(state: StateService, deployments: Deployments) -> None:
    """Publish the retained desired state of every device and desired instances of every node again (a broker
    that starts with the hub has none of them)."""
    devices = await state.republish()
    if devices:
        log.info("republished desired state of %d device(s)", devices)
    nodes = await deployments.republish()
    if nodes:
        log.info("republished the desired instances of %d node(s)", nodes)


async def directory_of(s: HubSettings, stack: AsyncExitStack, store: Backend) -> DirectoryProvider | None:
    """Directory sign-in when ``ldap.url`` is set. It comes after the local users in ``SignIn``: they (the platform
    admin too) still sign in while the directory is away."""
    if s.ldap.url is None:
        return None
    return await stack.enter_async_context(DirectoryProvider(s.ldap, store.identity))


class HubRuntime(Lifetime):
    """Everything of ``fieldhub up`` in one process; ``async with`` starts and stops it."""

    def __init__(self, settings: HubSettings, *, link: LinkFactory = MqttLink) -> None:
        """``link`` makes the hub's connection to Mosquitto (the benchmark compares others)."""
        super().__init__()
        self.settings = settings
        self._link = link
        self.generated_admin_password: str | None = None
        self.probe_port: int | None = None
        self._services: Services | None = None
        self._ports: tuple[int, int | None] | None = None
        self._http_port: int | None = None
        #: This process's part in the leader election (a lone ``fieldhub up`` always leads).
        self.leadership: Leadership | None = None
        self._holder = holder_name(settings.replica_id)

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
        self._stack.enter_context(bounded_accept_errors())
        s.data_dir.mkdir(parents=True, exist_ok=True)
        store = open_store(s.store_url)
        await store.database.open()
        self._stack.push_async_callback(store.database.close)
        # Opening connects to nothing yet (the first push or download does): no cost for hubs without apps.
        blobs = open_blob_store(s.blob, s.blob_context)
        self._stack.push_async_callback(blobs.close)
        logs = await self._stack.enter_async_context(log_upkeep(s, LogService(store.logs), blobs, store.registry))
        events = await self._stack.enter_async_context(Events(store.events))

        metrics = Metrics()
        authenticator = DeviceAuthenticator(store.registry, metrics)
        self._stack.callback(authenticator.close)
        users = UserDirectory(store.identity, s.hash_params)
        directory = await directory_of(s, self._stack, store)
        admin_password = s.admin_password.get_secret_value() if s.admin_password else None
        self.generated_admin_password = await users.ensure_admin(admin_password, reset=s.demo)
        key = s.secret_key.get_secret_value() if s.secret_key else load_or_create_key(s.data_dir / "secret.key")

        followers = Followers(store.outbox)
        live = await self._stack.enter_async_context(LiveFeed(store.outbox, followers, s.replica_id, metrics))
        links, forwarding = await start_streams(self._stack, s, store, metrics, followers, holder=self._holder)
        pipeline = await start_pipeline(
            self._stack, s, store, metrics, followers, listeners=(live.offer, forwarding.offer)
        )
        audit, guard = await start_audit(self._stack, s, store, links)

        downlink = Downlink()
        kind = BROKERS.build(s.broker)
        # The embedded broker tells the hub of every session; Mosquitto does not, the devices do.
        presence = (
            SessionPresence(store.registry, metrics, downlink)
            if kind.sees_sessions
            else ReportedPresence(store.registry, metrics)
        )
        if kind.starts_with_hub:
            await presence.reset()  # nobody is connected to a broker that starts now
        state = StateService(store.state, downlink)
        commands = CommandBus(metrics, presence, downlink)
        nodes = NodeService(store.nodes, metrics, logs.service.ingest)
        rulebook, alarms = await start_alarms(
            self._stack, store, events, metrics=metrics, pipeline=pipeline, nodes=nodes
        )
        reports = InstanceReports(store.apps, metrics, events, leading=self._leading)
        router = InboundRouter(pipeline, presence, state, commands, nodes, apps=reports, metrics=metrics)
        started = await kind.start(
            BrokerContext(
                s, self._stack, store.registry, router, authenticator, metrics, self._link, store.leases, self._holder
            )
        )
        self._ports = started.ports
        downlink.connect(started.broker)
        registry = DeviceRegistry(
            store.registry, authenticator, started.broker, started.accounts, profiles=store.profiles
        )
        await registry.ensure_tenant(DEFAULT_TENANT, "Default")
        apps = AppCatalog(store.apps, blobs)
        health = HealthThresholds(s.node_suspect_s, s.node_dead_s)
        deployments = Deployments(apps, registry, store.nodes, downlink, health, events=events, lock=reports.lock)
        nodes.add_listener(deployments.node_heard)
        schedules = Scheduler(deployments, store.apps, events=events)
        await republish(state, deployments)

        api_keys = ApiKeys(store.api_keys)
        self._services = Services(
            settings=s,
            store=store,
            metrics=metrics,
            registry=registry,
            users=users,
            sign_in=SignIn([users] if directory is None else [users, directory]),
            tokens=TokenService(key, s.token_ttl_s, store.identity, api_keys),
            api_keys=api_keys,
            state=state,
            commands=commands,
            live=live,
            pipeline=pipeline,
            forwarders=forwarding.forwarders,
            nodes=nodes,
            logs=logs.service,
            events=events,
            webhooks=webhooks_of(s, events),
            authenticator=authenticator,
            provisioning=Provisioning(store.provisioning, store.registry, registry),
            apps=apps,
            deployments=deployments,
            schedules=schedules,
            tunnels=Tunnels(metrics),
            profiles=Profiles(store.profiles),
            rules=Rules(store.alarms, store.profiles, store.channels, changed=rulebook.reload),
            alarms=alarms,
            channels=channels_of(s, store),
            guard=guard,
            audit=audit,
            mqtt_port=self.mqtt_port,
            broker_up=started.link_up,
            directory=directory,
        )
        duties = LeaderDuties(
            s,
            store,
            events,
            deployments,
            schedules,
            health,
            rulebook,
            alarms,
            downlink,
            links.sinks,
            started.adoption,
        )
        self.leadership = await self._stack.enter_async_context(
            Leadership(store.leases, self._holder, duties, s.leader.policy())
        )
        await self._start_http()

    async def _start_http(self) -> None:
        self._http_port = await serve_http(
            self._stack, create_app(self.services), self.settings.host, self.settings.http_port
        )
        log.info("HTTP API on %s (docs at /docs)", self.url)
        s, services = self.settings, self.services
        if s.probe_port is not None:
            directory = None if services.directory is None else services.directory.state
            probe = create_probe_app(
                services.store.database, services.metrics, services.broker_up, services.forwarders, directory
            )
            self.probe_port = await serve_http(self._stack, probe, s.host, s.probe_port)
            log.info("health and metrics without a token on %s:%d", s.host, self.probe_port)

    def _leading(self) -> bool:
        """Whether this process leads now (not yet, while it starts: the election follows the broker)."""
        return self.leadership is not None and self.leadership.leading

    def _stopped(self) -> None:
        self._services = None
        self.leadership = None
        self._ports = None
        self._http_port = None
        self.probe_port = None

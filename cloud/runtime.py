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
from cloud.settings import AlarmSettings, HubSettings, ProcessSettings
from contracts.channels import ChannelKind
from contracts.telemetry import Arrivals
from hub.alarms.evaluator import Evaluator
from hub.alarms.lifecycle import AlarmLifecycle
from hub.alarms.rulebook import RuleBook
from hub.alarms.rules import Rules
from hub.alarms.silence import SilenceWatch
from hub.apps.catalog import AppCatalog
from hub.audit.service import Audit
from hub.blobs.base import BlobStore
from hub.blobs.factory import open_blob_store
from hub.broker.downlink import Downlink
from hub.broker.mosquitto.link import LinkFactory, MqttLink
from hub.commands import CommandBus
from hub.deploy.deployments import Deployments
from hub.deploy.failover import Failover, NodeMonitor
from hub.deploy.health import HealthThresholds
from hub.deploy.instances import InstanceReports
from hub.deploy.scaling import Scaler
from hub.deploy.schedules import Scheduler
from hub.events.service import EventRetention, Events
from hub.events.webhooks import DeliveryPolicy, Webhooks
from hub.follower import Followers
from hub.ingest.pipeline import IngestPipeline
from hub.links.tunnels import Tunnels
from hub.live import LiveFeed
from hub.logs.handler import HubLogHandler
from hub.logs.retention import Retention, RetentionPolicy
from hub.logs.service import LogService
from hub.logs.upkeep import LogUpkeep
from hub.logutil import bounded_accept_errors
from hub.metrics import Metrics
from hub.nodes import NodeService
from hub.notify.base import Sender
from hub.notify.channels import Channels
from hub.notify.dispatcher import Dispatcher
from hub.notify.mail import MailSender
from hub.notify.mqtt import MqttSender
from hub.notify.stream import StreamSender
from hub.notify.webhook import WebhookSender
from hub.presence import ReportedPresence, SessionPresence
from hub.profiles.conformance import ProfileCheck
from hub.profiles.service import Profiles
from hub.registry import DEFAULT_TENANT, DeviceRegistry
from hub.router import InboundRouter
from hub.security.device_auth import DeviceAuthenticator
from hub.state import StateService
from hub.store.backend import Backend
from hub.store.factory import open_store
from hub.streams.factory import build_sink
from hub.streams.forwarder import Forwarder
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
    streams: Sequence[str] = (),
    drain_s: float = 0.0,
) -> tuple[IngestPipeline, list[Forwarder]]:
    """The ingest pipeline writing to ``store``, and a forwarder per stream of ``streams``.

    Forwarders start before the pipeline, so on the way out they stop after it: they get to send
    what the pipeline flushed to the store at the end (within ``drain_s``).
    """
    forwarders = []
    for url in streams:
        forwarder = Forwarder(build_sink(url), store.outbox, metrics, drain_s=drain_s)
        followers.join()
        forwarders.append(await stack.enter_async_context(forwarder))
        log.info("telemetry also goes to %s", forwarder.sink.name)
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
    for forwarder in forwarders:
        pipeline.add_listener(forwarder.offer)
    return await stack.enter_async_context(pipeline), forwarders


async def start_alarms(
    stack: AsyncExitStack,
    store: Backend,
    events: Events,
    *,
    metrics: Metrics,
    pipeline: IngestPipeline,
    nodes: NodeService,
    once: AlarmSettings | None,
) -> tuple[RuleBook, AlarmLifecycle]:
    """Evaluate the alarm rules on what ``pipeline`` stores and on the heartbeats ``nodes`` keeps; with ``once``
    (in one process of the hub), also raise no-data alarms and keep the alarms' retention."""
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
    if once is not None:
        silence = SilenceWatch(book, lifecycle, store.registry, store.telemetry, store.nodes)
        tasks.spawn(silence.run(), name="no-data-watch")
        tasks.spawn(lifecycle.keep(once.retention_days, once.retention_interval_s), name="alarm-retention")
    pipeline.add_observer(evaluator.offer)
    nodes.add_observer(evaluator.offer_heartbeat)
    return book, lifecycle


async def start_notifications(
    stack: AsyncExitStack,
    s: HubSettings,
    store: Backend,
    events: Events,
    *,
    downlink: Downlink,
    forwarders: list[Forwarder],
) -> Channels:
    """The tenants' notification channels, and the dispatcher that tells them of alarms (one per hub: this
    process's), with a sender for every kind this hub can send to."""
    smtp = s.smtp.config()
    senders: dict[ChannelKind, Sender] = {
        ChannelKind.WEBHOOK: await stack.enter_async_context(WebhookSender(s.notify.timeout_s)),
        ChannelKind.MQTT: MqttSender(downlink),
    }
    if smtp is not None:
        senders[ChannelKind.EMAIL] = MailSender(smtp, portal_url=s.public_url)
    if forwarders:
        senders[ChannelKind.STREAM] = StreamSender([forwarder.sink for forwarder in forwarders])
    # Entered after the forwarders and the webhook client: it stops before they close.
    await stack.enter_async_context(Dispatcher(events, store.channels, senders, s.notify.policy()))
    return Channels(
        store.channels, store.registry, email_available=smtp is not None, streams_available=bool(forwarders)
    )


def log_upkeep(s: HubSettings, logs: LogService, blobs: BlobStore) -> LogUpkeep:
    """The hub's own records into the log store, and its retention, as the settings say."""
    section = s.logs
    handler = None
    if section.hub_lines_per_s > 0:
        handler = HubLogHandler(s.replica_id, logging.getLevelName(section.hub_level), section.hub_lines_per_s)
    policy = RetentionPolicy(
        section.retention_days, section.max_lines, section.retention_interval_s, archive=section.archive
    )
    return LogUpkeep(logs, handler, Retention(logs.store, blobs, policy))


async def run_deployments(
    stack: AsyncExitStack, deployments: Deployments, store: Backend, events: Events, health: HealthThresholds
) -> Scheduler:
    """Start placing pending deployments, moving rollouts on, running the schedules, watching the nodes' health and
    autoscaling, as tasks that ``stack`` stops."""
    sweeps = Background()
    await sweeps.open()
    stack.push_async_callback(sweeps.close)
    sweeps.spawn(deployments.run_sweeps(), name="pending-deployments")
    sweeps.spawn(deployments.rollouts.run(), name="deployment-rollouts")
    schedules = Scheduler(deployments, store.apps, events=events)
    sweeps.spawn(schedules.run(), name="deployment-schedules")
    failover = Failover(deployments, events)
    monitor = NodeMonitor(deployments.placed_nodes, store.nodes, failover.move_off, health, failover.health_changed)
    sweeps.spawn(monitor.run(), name="node-health")
    scaler = Scaler(store.apps, store.nodes, deployments.scale_to)
    sweeps.spawn(scaler.run(), name="deployment-scaling")
    return schedules


async def start_audit(
    stack: AsyncExitStack, s: HubSettings, store: Backend, forwarders: list[Forwarder]
) -> tuple[Audit, SignInGuard]:
    """The audit trail, writing to the forwarders' streams too, and login protection, as the settings say."""
    audit = Audit(
        store.audit,
        sinks=[forwarder.sink for forwarder in forwarders],
        retention=s.audit.retention(),
        queue_size=s.audit.queue,
        drain_s=s.stream_drain_s,
    )
    # Entered after the forwarders: it stops, storing what is left, before they close.
    await stack.enter_async_context(audit)
    guard = await stack.enter_async_context(SignInGuard(store.sign_ins, s.login.policy()))
    return audit, guard


def events_of(s: HubSettings, store: Backend) -> Events:
    """The event service with its retention, as the settings say."""
    section = s.events
    return Events(
        store.events,
        retention=EventRetention(section.retention_days, section.max_per_tenant, section.retention_interval_s),
    )


def webhooks_of(s: HubSettings, events: Events) -> Webhooks:
    """The webhook subscriptions and their deliveries, as the settings say."""
    section = s.events
    policy = DeliveryPolicy(
        attempts=section.webhook_attempts,
        first_s=section.webhook_backoff_s,
        cap_s=section.webhook_backoff_cap_s,
        timeout_s=section.webhook_timeout_s,
        queue_size=section.webhook_queue,
    )
    return Webhooks(events, policy)


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
        logs = await self._stack.enter_async_context(log_upkeep(s, LogService(store.logs), blobs))
        events = await self._stack.enter_async_context(events_of(s, store))
        webhooks = await self._stack.enter_async_context(webhooks_of(s, events))

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
        pipeline, forwarders = await start_pipeline(
            self._stack, s, store, metrics, followers, streams=s.stream, drain_s=s.stream_drain_s
        )
        pipeline.add_listener(live.offer)
        audit, guard = await start_audit(self._stack, s, store, forwarders)

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
            self._stack, store, events, metrics=metrics, pipeline=pipeline, nodes=nodes, once=s.alarms
        )
        reports = InstanceReports(store.apps, metrics, events)
        router = InboundRouter(pipeline, presence, state, commands, nodes, apps=reports, metrics=metrics)
        started = await kind.start(
            BrokerContext(s, self._stack, store.registry, router, authenticator, metrics, self._link)
        )
        self._ports = started.ports
        downlink.connect(started.broker)
        registry = DeviceRegistry(
            store.registry, authenticator, s.hash_params, started.broker, started.accounts, profiles=store.profiles
        )
        await registry.ensure_tenant(DEFAULT_TENANT, "Default")
        apps = AppCatalog(store.apps, blobs)
        health = HealthThresholds(s.node_suspect_s, s.node_dead_s)
        deployments = Deployments(apps, registry, store.nodes, downlink, health, events=events, lock=reports.lock)
        nodes.add_listener(deployments.node_heard)
        schedules = await run_deployments(self._stack, deployments, store, events, health)
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
            forwarders=forwarders,
            nodes=nodes,
            logs=logs.service,
            events=events,
            webhooks=webhooks,
            authenticator=authenticator,
            provisioning=Provisioning(store.provisioning, store.registry, registry, s.hash_params),
            apps=apps,
            deployments=deployments,
            schedules=schedules,
            tunnels=Tunnels(metrics),
            profiles=Profiles(store.profiles),
            rules=Rules(store.alarms, store.profiles, store.channels, changed=rulebook.reload),
            alarms=alarms,
            channels=await start_notifications(self._stack, s, store, events, downlink=downlink, forwarders=forwarders),
            guard=guard,
            audit=audit,
            mqtt_port=self.mqtt_port,
            broker_up=started.link_up,
            directory=directory,
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

    def _stopped(self) -> None:
        self._services = None
        self._ports = None
        self._http_port = None
        self.probe_port = None

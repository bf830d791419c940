"""The collaborators the HTTP API uses, built once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cloud.identity.api_keys import ApiKeys
from cloud.identity.guard import SignInGuard
from cloud.identity.ldap import DirectoryProvider
from cloud.identity.providers import SignIn
from cloud.identity.provisioning import Provisioning
from cloud.identity.tokens import TokenService
from cloud.identity.users import UserDirectory
from cloud.settings import HubSettings
from hub.alarms.lifecycle import AlarmLifecycle
from hub.alarms.rules import Rules
from hub.apps.catalog import AppCatalog
from hub.audit.service import Audit
from hub.commands import CommandBus
from hub.deploy.deployments import Deployments
from hub.deploy.schedules import Scheduler
from hub.events.service import Events
from hub.events.webhooks import Webhooks
from hub.ingest.pipeline import IngestPipeline
from hub.links.tunnels import Tunnels
from hub.live import LiveFeed
from hub.logs.service import LogService
from hub.metrics import Metrics
from hub.nodes import NodeService
from hub.notify.channels import Channels
from hub.profiles.service import Profiles
from hub.registry import DeviceRegistry
from hub.security.device_auth import DeviceAuthenticator
from hub.state import StateService
from hub.store.backend import Backend
from hub.streams.forwarder import Forwarder


@dataclass(frozen=True, slots=True)
class Services:
    """Handed to the FastAPI app through ``app.state.services``."""

    settings: HubSettings
    store: Backend
    metrics: Metrics
    registry: DeviceRegistry
    users: UserDirectory
    #: Every identity provider in turn: local users, then the directory (LDAP) where one is set.
    sign_in: SignIn
    tokens: TokenService
    #: API keys for automation; ``tokens`` hands a bearer key to them.
    api_keys: ApiKeys
    state: StateService
    commands: CommandBus
    live: LiveFeed
    pipeline: IngestPipeline
    #: The stream forwarders this process runs (their state and lag go into /healthz and /metrics).
    forwarders: list[Forwarder]
    nodes: NodeService
    #: Log lines of the nodes, their apps and the hub: search and live tails.
    logs: LogService
    #: Platform events: record, list, follow live.
    events: Events
    #: The tenants' webhook subscriptions; this process delivers to them.
    webhooks: Webhooks
    authenticator: DeviceAuthenticator
    provisioning: Provisioning
    #: Pushed app versions, their packages in the blob store (``blob`` setting).
    apps: AppCatalog
    #: Deployments of app versions onto the tenants' nodes.
    deployments: Deployments
    #: Scheduled deployments: created through it, started and ended by its loop.
    schedules: Scheduler
    #: The nodes' app-link tunnels connected to this process.
    tunnels: Tunnels
    #: The tenants' device profiles.
    profiles: Profiles
    #: The tenants' alarm rules.
    rules: Rules
    #: Alarms: raised by the evaluators, acknowledged and cleared here, listed and followed.
    alarms: AlarmLifecycle
    #: The tenants' notification channels.
    channels: Channels
    #: Login protection: failed sign-ins counted per username and client address, shared through the store.
    guard: SignInGuard
    #: The audit trail: every change and sign-in recorded, listed, and written to the streams.
    audit: Audit
    #: The port the MQTT listener really bound (the setting may say 0).
    mqtt_port: int
    #: Whether the hub's own link to an external or managed broker is up (None: the broker is in-process).
    broker_up: Callable[[], bool] | None = None
    #: Directory sign-in (LDAP), when ``ldap.url`` is set; also one of ``sign_in``'s providers.
    directory: DirectoryProvider | None = None

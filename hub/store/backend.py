"""A store backend: one database, and the store interface it implements for each concern.

Code that keeps something takes the one interface of its concern (a registry takes a
:class:`RegistryStore`, ingest a :class:`TelemetryStore` and the :class:`Outbox`), never the whole
backend; only a composition root holds a :class:`Backend`. A new backend implements every
interface, passes each one's contract suite (``tests/contract``) and registers its URL scheme in
:mod:`hub.store.factory`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hub.store.alarms import AlarmStore
from hub.store.api_keys import ApiKeyStore
from hub.store.apps import AppStore
from hub.store.audit import AuditStore
from hub.store.channels import ChannelStore
from hub.store.events import EventStore
from hub.store.identity import IdentityStore
from hub.store.leases import LeaseStore
from hub.store.logs import LogStore
from hub.store.nodes import NodeStore
from hub.store.outbox import Outbox
from hub.store.profiles import ProfileStore
from hub.store.provisioning import ProvisioningStore
from hub.store.registry import RegistryStore
from hub.store.signins import SignInStore
from hub.store.state import StateStore
from hub.store.telemetry import TelemetryStore


class Database(Protocol):
    """The connection to the database behind every interface of a backend."""

    async def open(self) -> None:
        """Connect and bring the schema to the current version."""

    async def close(self) -> None:
        """Release connections; pending writes are complete when this returns."""

    async def ping(self) -> None:
        """Raise :class:`hub.errors.StoreUnavailable` if the store cannot serve."""


@dataclass(frozen=True, slots=True)
class Backend:
    """The store interfaces one database implements, and the database itself (open it first)."""

    database: Database
    registry: RegistryStore
    telemetry: TelemetryStore
    outbox: Outbox
    state: StateStore
    nodes: NodeStore
    identity: IdentityStore
    api_keys: ApiKeyStore
    provisioning: ProvisioningStore
    apps: AppStore
    logs: LogStore
    events: EventStore
    profiles: ProfileStore
    alarms: AlarmStore
    channels: ChannelStore
    audit: AuditStore
    sign_ins: SignInStore
    #: Named leases: which hub process leads (does the work that runs once).
    leases: LeaseStore

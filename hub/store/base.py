"""The store interface, shaped so SQLite and MongoDB can both implement it.

No SQL or driver type crosses this boundary: callers pass small query objects and get
contract models or plain tuples back. Timestamps are epoch milliseconds (UTC).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from contracts.devices import Device, DeviceKind, DeviceStatus, Tenant
from contracts.telemetry import Reading, Value


class Message(Protocol):
    """One telemetry message as ingest accepted it: what the store writes and the outbox hands on.

    Ingest hands its parsed readings over unchanged: building an object per point on the way
    to the store cost a fifth of the batched ingest path. A reading's ``seq`` identifies
    redeliveries (see :class:`contracts.telemetry.Reading`).
    """

    @property
    def device_id(self) -> str: ...
    @property
    def tenant(self) -> str: ...
    @property
    def received(self) -> int:
        """Hub receive time, epoch milliseconds (the device's last seen)."""

    @property
    def readings(self) -> Sequence[Reading]: ...


class DeviceReadings(NamedTuple):
    """A :class:`Message` as a plain tuple (read back from the outbox, or built by hand)."""

    device_id: str
    tenant: str
    received: int
    readings: Sequence[Reading]


class AggFn(enum.StrEnum):
    """Aggregations over numeric values (booleans count as 0/1; count counts every point)."""

    AVG = "avg"
    MIN = "min"
    MAX = "max"
    SUM = "sum"
    COUNT = "count"


@dataclass(frozen=True, slots=True)
class RangeQuery:
    """Points of one key of one device in ``[start, end)``."""

    device_id: str
    key: str
    start: int | None = None
    end: int | None = None
    limit: int = 1000
    descending: bool = False


@dataclass(frozen=True, slots=True)
class AggregateQuery:
    """Buckets of ``interval_ms`` (aligned to the epoch) over a range."""

    range: RangeQuery
    fn: AggFn
    interval_ms: int


@dataclass(frozen=True, slots=True)
class DeviceQuery:
    """Filters of a device listing; ``None`` means no filter."""

    tenant: str | None = None
    label: tuple[str, str] | None = None
    status: DeviceStatus | None = None
    kind: DeviceKind | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class DeviceSecret:
    """What the broker needs to authenticate a device."""

    device_id: str
    tenant: str
    secret_hash: str
    enabled: bool
    #: The same secret in the broker's own hash format (see :func:`hub.security.passwords.broker_hash`).
    broker_hash: str | None = None


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A local user; ``tenant`` is ``None`` for platform admins."""

    username: str
    password_hash: str
    role: str
    tenant: str | None
    created: int


@dataclass(frozen=True, slots=True)
class ProvisioningTokenRecord:
    """A tenant's enrollment token for new gateways; only a hash of its secret is kept."""

    id: str
    tenant: str
    secret_hash: str
    expires: int
    uses_left: int
    labels: dict[str, str]
    created_by: str
    created: int


@dataclass(frozen=True, slots=True)
class StateRecord:
    """A desired or reported state document with its version."""

    doc: dict[str, Any]
    version: int
    updated: int


class StateKind(enum.StrEnum):
    """Which side of the device twin."""

    DESIRED = "desired"
    REPORTED = "reported"
    #: The latest heartbeat of an edge agent (node health, spool, sensors).
    HEARTBEAT = "heartbeat"


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Outcome of a batch write; ``position`` is the batch's place in the outbox (see :mod:`hub.store.outbox`)."""

    stored: int
    duplicates: int
    position: int


@dataclass(frozen=True, slots=True)
class DevicePatchRecord:
    """Fields to change on a device; ``None`` leaves a field alone."""

    name: str | None = None
    labels: dict[str, str] | None = None
    enabled: bool | None = None


class Store(Protocol):
    """Everything the hub persists. Implementations are async and safe to share."""

    async def open(self) -> None:
        """Connect and bring the schema to the current version."""

    async def close(self) -> None:
        """Release connections; pending writes are complete when this returns."""

    async def ping(self) -> None:
        """Raise :class:`hub.errors.StoreUnavailable` if the store cannot serve."""

    # tenants
    async def create_tenant(self, tenant: Tenant) -> None:
        """Insert a tenant; :class:`hub.errors.Conflict` if the id exists."""

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        """One tenant or ``None``."""

    async def list_tenants(self) -> list[Tenant]:
        """All tenants ordered by id."""

    # devices
    async def create_device(self, device: Device, secret_hash: str, broker_hash: str | None = None) -> None:
        """Insert a device; :class:`hub.errors.Conflict` if the id exists."""

    async def get_device(self, device_id: str) -> Device | None:
        """One device or ``None``."""

    async def list_devices(self, query: DeviceQuery) -> tuple[list[Device], int]:
        """A page of devices ordered by id and the total matching the filters."""

    async def update_device(self, device_id: str, patch: DevicePatchRecord) -> Device | None:
        """Apply a patch; ``None`` if the device does not exist."""

    async def delete_device(self, device_id: str) -> bool:
        """Delete a device with its telemetry and state; ``False`` if it did not exist."""

    async def get_device_secret(self, device_id: str) -> DeviceSecret | None:
        """Credentials record for authentication."""

    async def set_device_secret(self, device_id: str, secret_hash: str, broker_hash: str | None = None) -> bool:
        """Replace the secret hashes; ``False`` if the device does not exist."""

    async def list_device_secrets(self) -> list[DeviceSecret]:
        """Every device's credentials record ordered by id (a broker's full reconcile)."""

    async def set_status(self, device_id: str, status: DeviceStatus, ts: int) -> None:
        """Record a connection status change (and last seen when online)."""

    async def reset_statuses(self) -> None:
        """Mark every device offline (the broker restarted, so no one is connected)."""

    # telemetry
    async def write_points(self, batch: Sequence[Message]) -> WriteResult:
        """Store a batch atomically, dropping duplicates, and update latest values and last seen.

        The batch is appended to the outbox in the same transaction, whole (duplicates too: the
        streams are at least once), so what was stored and what is forwarded never differ.
        """

    async def query_range(self, query: RangeQuery) -> list[tuple[int, Value]]:
        """Raw points ``(ts, value)`` in time order."""

    async def query_aggregate(self, query: AggregateQuery) -> list[tuple[int, float]]:
        """Buckets ``(bucket_start, aggregate)`` in time order; empty buckets are absent."""

    async def latest(self, device_id: str) -> dict[str, tuple[int, Value]]:
        """Latest ``(ts, value)`` per key of a device."""

    # state
    async def put_state(self, device_id: str, kind: StateKind, doc: dict[str, Any], ts: int) -> StateRecord:
        """Replace a state document, bumping its version."""

    async def get_state(self, device_id: str, kind: StateKind) -> StateRecord | None:
        """A state document or ``None``."""

    async def list_states(self, kind: StateKind) -> list[tuple[str, StateRecord]]:
        """Every device's state of one kind (used to republish desired state at start)."""

    # node logs
    async def append_logs(self, device_id: str, lines: list[tuple[int, str, str, str]], keep: int) -> None:
        """Store ``(ts, level, logger, message)`` lines, keeping only the newest ``keep`` of the device."""

    async def recent_logs(self, device_id: str, limit: int) -> list[tuple[int, str, str, str]]:
        """The newest ``limit`` lines of a device, oldest first."""

    # provisioning tokens
    async def create_token(self, token: ProvisioningTokenRecord) -> None:
        """Insert a provisioning token; :class:`hub.errors.Conflict` if the id exists."""

    async def get_token(self, token_id: str) -> ProvisioningTokenRecord | None:
        """One token or ``None``."""

    async def list_tokens(self, tenant: str | None) -> list[ProvisioningTokenRecord]:
        """Tokens of one tenant (all when ``None``), newest first."""

    async def use_token(self, token_id: str, now: int) -> bool:
        """Take one use of a token atomically; ``False`` if it is gone, expired or used up."""

    async def delete_token(self, token_id: str) -> bool:
        """Revoke a token; ``False`` if it did not exist."""

    # users
    async def create_user(self, user: UserRecord) -> None:
        """Insert a user; :class:`hub.errors.Conflict` if the name exists."""

    async def put_user(self, user: UserRecord) -> None:
        """Insert or replace a user."""

    async def get_user(self, username: str) -> UserRecord | None:
        """One user or ``None``."""

    async def list_users(self, tenant: str | None) -> list[UserRecord]:
        """Users of one tenant, or all users when ``tenant`` is ``None``."""

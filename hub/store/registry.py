"""The registry's store: tenants, devices, their credentials records and connection status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from contracts.devices import Device, DeviceKind, DeviceStatus, Tenant


@dataclass(frozen=True, slots=True)
class DeviceQuery:
    """Filters of a device listing; ``None`` means no filter."""

    tenant: str | None = None
    label: tuple[str, str] | None = None
    status: DeviceStatus | None = None
    kind: DeviceKind | None = None
    #: Case-insensitive substring of the id or the name.
    search: str | None = None
    #: Devices that follow this profile.
    profile: str | None = None
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
class DevicePatchRecord:
    """Fields to change on a device; ``None`` leaves a field alone."""

    name: str | None = None
    labels: dict[str, str] | None = None
    enabled: bool | None = None
    #: The device's profile; ``""`` removes it.
    profile: str | None = None


class RegistryStore(Protocol):
    """Tenants and devices. Implementations are async and safe to share."""

    # tenants
    async def create_tenant(self, tenant: Tenant) -> None:
        """Insert a tenant; :class:`hub.errors.Conflict` if the id exists."""

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        """One tenant or ``None``."""

    async def list_tenants(self) -> list[Tenant]:
        """All tenants ordered by id."""

    async def rename_tenant(self, tenant_id: str, name: str) -> Tenant | None:
        """Give a tenant another name; the tenant as now stored, or ``None`` if there is none."""

    async def set_tenant_retention(
        self, tenant_id: str, telemetry_days: int | None, logs_days: int | None
    ) -> Tenant | None:
        """Set how many days a tenant keeps raw telemetry and log lines (``None``: the hub's default); the tenant as
        now stored, or ``None`` if there is none."""

    async def delete_tenant(self, tenant_id: str) -> dict[str, int] | None:
        """Delete a tenant only if nothing is left in it, in one step; ``None`` if there is no such tenant.

        Otherwise the count of what is left by kind (``devices``, ``users``, ``apps``, ``deployments``,
        ``profiles``, ``rules``, ``channels``, ``webhooks``); nothing was deleted unless that is empty. Its
        history (events, log lines, alarms, provisioning tokens) goes with it, so that a new tenant of the
        same id starts empty.
        """

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
        """Delete a device with all that is kept of it (telemetry, state, heartbeat, logs, the pending conditions of
        rules on it; its alarms stay, as history); ``False`` if absent."""

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

"""The device registry: create, change, rotate and delete devices and their credentials.

Every change that affects authentication drops the device from the auth cache and
closes its live sessions at once, so a rotated or disabled secret stops working now,
not at the next reconnect. With a broker that checks credentials itself, the broker's
accounts change first (or, for a new device, right after the insert, which is undone
if the broker refuses): a change the broker did not take is not made at all.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from contracts.devices import (
    MAX_DEVICE_BATCH,
    MAX_LABELS,
    Credentials,
    Device,
    DeviceCreate,
    DevicePatch,
    DeviceWithCredentials,
    Tenant,
)
from contracts.profiles import Profile
from hub.broker.base import BrokerAccounts, SessionControl
from hub.errors import Conflict, Forbidden, InvalidInput, NotEmpty, NotFound
from hub.security.device_auth import DeviceAuthenticator
from hub.security.passwords import broker_hash, hash_secret, new_secret
from hub.store.profiles import ProfileStore
from hub.store.registry import DevicePatchRecord, DeviceQuery, RegistryStore

log = logging.getLogger(__name__)
DEFAULT_TENANT = "default"


class DeviceRegistry:
    """Registry operations; tenant visibility is checked by the caller (the API)."""

    def __init__(
        self,
        store: RegistryStore,
        authenticator: DeviceAuthenticator,
        sessions: SessionControl,
        accounts: BrokerAccounts | None = None,
        *,
        profiles: ProfileStore,
    ) -> None:
        """``sessions`` closes a changed device's live sessions; ``accounts`` (a broker that checks
        credentials itself) is kept in step with every change; a device's profile must be in ``profiles``."""
        self._store = store
        self._profiles = profiles
        self._auth = authenticator
        self._sessions = sessions
        self._accounts = accounts

    async def ensure_tenant(self, tenant_id: str, name: str) -> Tenant:
        """Create a tenant unless it exists (used for the default tenant at start)."""
        existing = await self._store.get_tenant(tenant_id)
        if existing is not None:
            return existing
        tenant = Tenant(id=tenant_id, name=name, created=datetime.now(UTC))
        try:
            await self._store.create_tenant(tenant)
        except Conflict:
            return await self._require_tenant(tenant_id)
        return tenant

    async def create_tenant(self, name: str, tenant_id: str | None) -> Tenant:
        tenant = Tenant(id=tenant_id or f"t-{secrets.token_hex(4)}", name=name, created=datetime.now(UTC))
        await self._store.create_tenant(tenant)
        log.info("created tenant %s", tenant.id)
        return tenant

    async def rename_tenant(self, tenant_id: str, name: str) -> Tenant:
        """Give a tenant another name; :class:`NotFound` if there is none."""
        tenant = await self._store.rename_tenant(tenant_id, name)
        if tenant is None:
            raise NotFound("tenant", tenant_id)
        log.info("renamed tenant %s", tenant_id)
        return tenant

    async def set_retention(self, tenant_id: str, telemetry_days: int | None, logs_days: int | None) -> Tenant:
        """Set how many days a tenant keeps raw telemetry and log lines (``None``: the hub's default);
        :class:`NotFound` if there is no such tenant."""
        tenant = await self._store.set_tenant_retention(tenant_id, telemetry_days, logs_days)
        if tenant is None:
            raise NotFound("tenant", tenant_id)
        log.info("tenant %s keeps telemetry %s days, logs %s days", tenant_id, telemetry_days, logs_days)
        return tenant

    async def delete_tenant(self, tenant_id: str) -> None:
        """Delete an empty tenant: :class:`NotEmpty` naming what is left, :class:`Forbidden` for the default one."""
        if tenant_id == DEFAULT_TENANT:
            raise Forbidden(f"the {DEFAULT_TENANT!r} tenant cannot be deleted")
        left = await self._store.delete_tenant(tenant_id)
        if left is None:
            raise NotFound("tenant", tenant_id)
        if left:
            raise NotEmpty("tenant", tenant_id, left)
        log.info("deleted tenant %s", tenant_id)

    async def _require_tenant(self, tenant_id: str) -> Tenant:
        tenant = await self._store.get_tenant(tenant_id)
        if tenant is None:
            raise InvalidInput(f"tenant {tenant_id!r} does not exist")
        return tenant

    async def create_device(self, spec: DeviceCreate, tenant_id: str) -> DeviceWithCredentials:
        """Register a device and return it with its one-time credentials; its profile's labels are its own
        unless ``spec`` gives them. Raises InvalidInput: no such tenant or profile of it, too many labels."""
        (created,) = await self.create_devices([spec], tenant_id)
        return created

    async def create_devices(self, specs: Sequence[DeviceCreate], tenant_id: str) -> list[DeviceWithCredentials]:
        """Register up to :data:`MAX_DEVICE_BATCH` devices at once, all or none, each as :meth:`create_device` does.

        A broker that checks credentials itself gets every account in one message. Raises InvalidInput (as
        :meth:`create_device`, an empty or too large batch, an id given twice), Conflict (an id that is taken;
        nothing is registered).
        """
        if not 1 <= len(specs) <= MAX_DEVICE_BATCH:
            raise InvalidInput(f"register 1 to {MAX_DEVICE_BATCH} devices at once, not {len(specs)}")
        repeated = sorted(i for i, n in Counter(spec.id for spec in specs if spec.id).items() if n > 1)
        if repeated:
            raise InvalidInput(f"device ids given more than once: {', '.join(repeated[:10])}")
        await self._require_tenant(tenant_id)
        profiles: dict[str, Profile] = {}
        devices = [await self._new_device(spec, tenant_id, profiles) for spec in specs]
        secrets_by_id = {device.id: new_secret() for device in devices}
        created: list[str] = []
        try:
            for device in devices:
                secret = secrets_by_id[device.id]
                await self._store.create_device(device, hash_secret(secret), broker_hash(secret))
                created.append(device.id)
            if self._accounts is not None:
                await self._accounts.devices_created(secrets_by_id)
        except Exception:
            for device_id in created:
                await self._store.delete_device(device_id)
            raise
        log.info("registered %d device(s) in tenant %s, the first %s", len(devices), tenant_id, devices[0].id)
        return [
            DeviceWithCredentials(
                **device.model_dump(), credentials=Credentials(username=device.id, password=secrets_by_id[device.id])
            )
            for device in devices
        ]

    async def _new_device(self, spec: DeviceCreate, tenant_id: str, profiles: dict[str, Profile]) -> Device:
        """The device ``spec`` describes, with its profile's labels (profiles already looked up in ``profiles``)."""
        labels = spec.labels
        if spec.profile is not None:
            if spec.profile not in profiles:
                profiles[spec.profile] = await self._profile(tenant_id, spec.profile)
            labels = {**profiles[spec.profile].labels, **spec.labels}
            if len(labels) > MAX_LABELS:
                raise InvalidInput(f"with its profile's labels the device has {len(labels)}; at most {MAX_LABELS}")
        return Device(
            id=spec.id or f"d-{secrets.token_hex(6)}",
            name=spec.name,
            tenant=tenant_id,
            kind=spec.kind,
            labels=labels,
            created=datetime.now(UTC),
            profile=spec.profile,
        )

    async def get(self, device_id: str) -> Device:
        device = await self._store.get_device(device_id)
        if device is None:
            raise NotFound("device", device_id)
        return device

    async def list(self, query: DeviceQuery) -> tuple[list[Device], int]:
        return await self._store.list_devices(query)

    async def update(self, device_id: str, patch: DevicePatch) -> Device:
        """Apply ``patch``. Raises NotFound, InvalidInput (a profile its tenant does not have)."""
        if patch.profile:
            await self._profile((await self.get(device_id)).tenant, patch.profile)
        if self._accounts is not None and patch.enabled is not None:
            await self.get(device_id)
            await self._accounts.device_enabled(device_id, patch.enabled)
        device = await self._store.update_device(
            device_id,
            DevicePatchRecord(name=patch.name, labels=patch.labels, enabled=patch.enabled, profile=patch.profile),
        )
        if device is None:
            raise NotFound("device", device_id)
        if patch.enabled is False:
            await self._revoke(device_id)
            log.info("disabled device %s", device_id)
        elif patch.enabled:
            self._auth.invalidate(device_id)
        return device

    async def _profile(self, tenant_id: str, profile_id: str) -> Profile:
        found = await self._profiles.get_profile(tenant_id, profile_id)
        if found is None:
            raise InvalidInput(f"profile {profile_id!r} is not one of tenant {tenant_id}'s profiles")
        return found

    async def rotate(self, device_id: str) -> Credentials:
        """Issue a new secret; the old one stops working at once."""
        secret = new_secret()
        if self._accounts is not None:
            device = await self.get(device_id)
            await self._accounts.secret_rotated(device_id, secret, enabled=device.enabled)
        if not await self._store.set_device_secret(device_id, hash_secret(secret), broker_hash(secret)):
            raise NotFound("device", device_id)
        await self._revoke(device_id)
        log.info("rotated credentials of device %s", device_id)
        return Credentials(username=device_id, password=secret)

    async def delete(self, device_id: str) -> None:
        if self._accounts is not None:
            await self.get(device_id)
            await self._accounts.device_deleted(device_id)
        if not await self._store.delete_device(device_id):
            raise NotFound("device", device_id)
        await self._revoke(device_id)
        log.info("deleted device %s", device_id)

    async def _revoke(self, device_id: str) -> None:
        self._auth.invalidate(device_id)
        closed = await self._sessions.disconnect_device(device_id)
        if closed:
            log.info("closed %d live session(s) of device %s", closed, device_id)

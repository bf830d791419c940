"""Provisioning tokens: created by tenant admins, redeemed once per new gateway.

A token reads ``{id}.{secret}``: the id finds the record, the secret is checked against its hash (a generated
secret's fast one, :func:`hub.security.passwords.hash_secret`). Every failed redemption gets the same answer,
so tokens cannot be probed.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from contracts.devices import DeviceCreate, DeviceKind
from contracts.provisioning import Enrolled, EnrollRequest, TokenCreate, TokenCreated, TokenInfo
from contracts.telemetry import from_epoch_ms
from hub.clock import now_ms
from hub.errors import Conflict, NotFound, Unauthorized
from hub.registry import DeviceRegistry
from hub.security.passwords import hash_secret, new_secret, verify_secret
from hub.store.provisioning import ProvisioningStore, ProvisioningTokenRecord
from hub.store.registry import RegistryStore

log = logging.getLogger(__name__)
_REFUSED = "invalid, expired or used-up provisioning token"


def _info(record: ProvisioningTokenRecord) -> TokenInfo:
    return TokenInfo(
        id=record.id,
        tenant=record.tenant,
        expires=from_epoch_ms(record.expires),
        uses_left=record.uses_left,
        labels=record.labels,
        created_by=record.created_by,
        created=from_epoch_ms(record.created),
    )


class Provisioning:
    """Creates, lists, revokes and redeems provisioning tokens."""

    def __init__(self, tokens: ProvisioningStore, devices: RegistryStore, registry: DeviceRegistry) -> None:
        self._store = tokens
        self._devices = devices
        self._registry = registry

    async def create(self, body: TokenCreate, tenant: str, created_by: str) -> TokenCreated:
        if await self._devices.get_tenant(tenant) is None:
            raise NotFound("tenant", tenant)
        token_id, secret = f"pt-{secrets.token_hex(6)}", new_secret()
        now = now_ms()
        record = ProvisioningTokenRecord(
            id=token_id,
            tenant=tenant,
            secret_hash=hash_secret(secret),
            expires=now + body.expires_in_s * 1000,
            uses_left=body.uses,
            labels=body.labels,
            created_by=created_by,
            created=now,
        )
        await self._store.create_token(record)
        log.info("%s created provisioning token %s for tenant %s (%d uses)", created_by, token_id, tenant, body.uses)
        return TokenCreated(**_info(record).model_dump(), token=f"{token_id}.{secret}")

    async def list(self, tenant: str | None) -> list[TokenInfo]:
        return [_info(r) for r in await self._store.list_tokens(tenant)]

    async def get(self, token_id: str) -> TokenInfo | None:
        record = await self._store.get_token(token_id)
        return None if record is None else _info(record)

    async def revoke(self, token_id: str) -> None:
        if not await self._store.delete_token(token_id):
            raise NotFound("provisioning token", token_id)

    async def enroll(self, body: EnrollRequest, mqtt_port: int) -> Enrolled:
        """Register a gateway in the token's tenant and return its credentials."""
        token_id, _, secret = body.token.partition(".")
        record = await self._store.get_token(token_id) if secret else None
        # On a thread: a token made before secrets were hashed fast still has a scrypt hash.
        valid = record is not None and await asyncio.to_thread(verify_secret, secret, record.secret_hash)
        if record is None or not valid:
            log.warning("refused an enrollment with token id %r", token_id[:40])
            raise Unauthorized(_REFUSED)
        if body.id is not None and await self._devices.get_device(body.id) is not None:
            # Checked before the use is taken, so a taken id does not burn a use of the token.
            raise Conflict(f"device {body.id!r} already exists")
        if not await self._store.use_token(token_id, now_ms()):
            log.warning("refused an enrollment with expired or used-up token %s", token_id)
            raise Unauthorized(_REFUSED)
        spec = DeviceCreate(
            name=body.name, id=body.id, kind=DeviceKind.GATEWAY, labels={**record.labels, **body.labels}
        )
        created = await self._registry.create_device(spec, record.tenant)
        log.info("gateway %s enrolled in tenant %s with token %s", created.id, record.tenant, token_id)
        device = created.model_dump(exclude={"credentials"})
        return Enrolled(device=device, credentials=created.credentials, mqtt_port=mqtt_port)

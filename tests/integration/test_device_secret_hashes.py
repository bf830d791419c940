"""Device secrets are hashed fast now, and devices registered with a scrypt hash still get in, over MQTT and HTTP
ingest alike; a wrong secret is refused on both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from cloud.runtime import HubRuntime
from hub.security.passwords import ScryptParams, hash_password, verify_secret
from tests.helpers.hub import Api
from tests.helpers.mqtt import TestDevice

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def anonymous(hub: HubRuntime) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hub.url, timeout=20) as client:
        yield client


async def mqtt_accepts(hub: HubRuntime, device_id: str, secret: str) -> bool:
    device = await asyncio.to_thread(TestDevice(hub.mqtt_port, device_id, secret).connect, expect_success=False)
    try:
        return not device.refused
    finally:
        await asyncio.to_thread(device.close)


async def ingest_accepts(client: httpx.AsyncClient, device_id: str, secret: str) -> bool:
    r = await client.post("/api/v1/ingest/telemetry", json={"values": {"t": 1}}, auth=(device_id, secret))
    assert r.status_code in (202, 401), r.text
    return r.status_code == 202


async def test_a_new_device_secret_gets_the_fast_hash(hub: HubRuntime, api: Api, unique_id: str) -> None:
    secret = (await api.create_device(unique_id))["credentials"]["password"]
    record = await hub.services.store.registry.get_device_secret(unique_id)
    assert record is not None
    assert record.secret_hash.startswith("hmac-sha256$") and secret not in record.secret_hash
    assert verify_secret(secret, record.secret_hash) and not verify_secret(secret + "x", record.secret_hash)


async def test_a_device_with_a_scrypt_hash_still_gets_in_and_a_wrong_secret_does_not(
    hub: HubRuntime, api: Api, anonymous: httpx.AsyncClient, unique_id: str
) -> None:
    secret = (await api.create_device(unique_id))["credentials"]["password"]
    store = hub.services.store.registry
    record = await store.get_device_secret(unique_id)
    assert record is not None
    # As registered before device secrets were hashed fast.
    old = hash_password(secret, ScryptParams(n=1024))
    assert await store.set_device_secret(unique_id, old, record.broker_hash)
    hub.services.authenticator.invalidate(unique_id)

    assert not await mqtt_accepts(hub, unique_id, secret + "x")
    assert not await ingest_accepts(anonymous, unique_id, secret + "x")
    assert await mqtt_accepts(hub, unique_id, secret)
    hub.services.authenticator.invalidate(unique_id)  # checked against the stored hash again, not the cache
    assert await ingest_accepts(anonymous, unique_id, secret)
    stored = await store.get_device_secret(unique_id)
    assert stored is not None and stored.secret_hash == old


async def test_a_fast_hashed_secret_is_checked_on_both_paths(
    hub: HubRuntime, api: Api, anonymous: httpx.AsyncClient, unique_id: str
) -> None:
    secret = (await api.create_device(unique_id))["credentials"]["password"]
    assert not await ingest_accepts(anonymous, unique_id, secret[:-1])
    assert not await mqtt_accepts(hub, unique_id, secret[:-1])
    assert await ingest_accepts(anonymous, unique_id, secret)
    hub.services.authenticator.invalidate(unique_id)
    assert await mqtt_accepts(hub, unique_id, secret)

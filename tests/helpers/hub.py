"""An in-process hub on free ports, and an authenticated API client for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from cloud.runtime import HubRuntime
from cloud.settings import load_settings
from tests.helpers.mqtt import TestDevice
from tests.helpers.waiting import eventually

ADMIN_PASSWORD = "test-admin-password"


def test_settings(data_dir: Path, **overrides: Any) -> Any:
    # demo relaxes the scrypt cost so that creating many devices stays fast in tests.
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "mqtt_port": 0,
        "http_port": 0,
        "demo": True,
        "scrypt_n": 1024,
        "admin_password": ADMIN_PASSWORD,
    }
    values.update(overrides)
    return load_settings(**values)


@asynccontextmanager
async def running_hub(data_dir: Path, **overrides: Any) -> AsyncIterator[HubRuntime]:
    async with HubRuntime(test_settings(data_dir, **overrides)) as hub:
        yield hub


class Api:
    """httpx client bound to a hub, logged in as someone."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.http = client

    @classmethod
    async def login(cls, base_url: str, username: str = "admin", password: str = ADMIN_PASSWORD) -> Api:
        client = httpx.AsyncClient(base_url=base_url, timeout=20)
        response = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert response.status_code == 200, response.text
        client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return cls(client)

    async def create_device(self, device_id: str, **body: Any) -> dict[str, Any]:
        response = await self.http.post("/api/v1/devices", json={"id": device_id, "name": device_id, **body})
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    async def created(self, path: str, body: dict[str, Any], **params: str) -> dict[str, Any]:
        """The answer of a ``POST`` that must make something (``201``)."""
        response = await self.http.post(path, json=body, params=params or None)
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def refused(self, method: str, path: str, status: int, body: Any = None, **params: str) -> str:
        """The message of an error answer that must have ``status``."""
        response = await self.http.request(method, path, json=body, params=params or None)
        assert response.status_code == status, response.text
        message: str = response.json()["error"]["message"]
        return message

    async def close(self) -> None:
        await self.http.aclose()


async def connected_device(hub: HubRuntime, device_id: str, api: Api | None = None) -> TestDevice:
    """Register ``device_id`` (through ``api``, or as the admin) and connect it over MQTT."""
    client = api or await Api.login(hub.url)
    try:
        secret = (await client.create_device(device_id))["credentials"]["password"]
    finally:
        if api is None:
            await client.close()
    return await asyncio.to_thread(TestDevice(hub.mqtt_port, device_id, secret).connect)


async def store_readings(hub: HubRuntime, api: Api, device_id: str, secret: str, readings: list[Any], key: str) -> None:
    """Publish ``readings`` (one telemetry message) as ``device_id``; wait until the store has each of ``key``."""
    device = await asyncio.to_thread(TestDevice(hub.mqtt_port, device_id, secret).connect)
    try:
        await asyncio.to_thread(device.publish, f"devices/{device_id}/telemetry", orjson.dumps(readings))
    finally:
        await asyncio.to_thread(device.close)

    async def stored() -> bool:
        r = await api.http.get(f"/api/v1/devices/{device_id}/telemetry", params={"key": key})
        return len(r.json()["points"]) == len(readings)

    await eventually(stored, what="readings stored")

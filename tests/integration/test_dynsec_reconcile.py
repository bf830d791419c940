"""An external Mosquitto brought in step with the registry by sending only what differs (real dynsec plugin)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.broker.mosquitto import dynsec
from hub.broker.mosquitto.dynsec import DEVICE_TEXTNAME, DynsecAccounts, device_acls, role_name
from hub.security.passwords import broker_hash
from hub.store.backend import Backend
from hub.store.factory import open_store
from hub.store.registry import DevicePatchRecord
from tests.contract.support import device, with_devices
from tests.helpers.dynsec import Admin, dynsec_admin
from tests.helpers.mosquitto import ExternalMosquitto
from tests.helpers.mqtt import TestDevice

pytestmark = pytest.mark.timeout(60)

#: Registered devices and their secrets; the last one is disabled in the registry.
SECRETS = {f"dev-{n}": f"secret-of-dev-{n}-long-enough" for n in range(5)}
DISABLED = "dev-4"


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[Backend]:
    backend = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    await backend.database.open()
    await with_devices(backend)
    for device_id, secret in SECRETS.items():
        await backend.registry.create_device(device(device_id), f"hash-of-{device_id}", broker_hash(secret))
    await backend.registry.update_device(DISABLED, DevicePatchRecord(enabled=False))
    yield backend
    await backend.database.close()


@pytest.fixture
async def broker(tmp_path: Path, registry: Backend) -> AsyncIterator[ExternalMosquitto]:
    """A broker that starts in step: its account file written from the registry."""
    started = ExternalMosquitto(tmp_path / "mosquitto")
    started.start(await registry.registry.list_device_secrets())
    yield started
    started.stop()


@pytest.fixture
async def admin(broker: ExternalMosquitto) -> AsyncIterator[Admin]:
    async with dynsec_admin(broker.port) as opened:
        yield opened


async def client(admin: Admin, username: str) -> dict[str, Any] | None:
    (answer,) = await admin.control.run({"command": "getClient", "username": username}, allow=("Client not found",))
    return None if answer.get("error") else answer["data"]["client"]


async def role_acls(admin: Admin, rolename: str) -> set[tuple[str, str, bool]] | None:
    (answer,) = await admin.control.run({"command": "getRole", "rolename": rolename}, allow=("Role not found",))
    if answer.get("error"):
        return None
    return {(a["acltype"], a["topic"], a["allow"]) for a in answer["data"]["role"]["acls"]}


def wanted_acls(device_id: str) -> set[tuple[str, str, bool]]:
    return {(a["acltype"], a["topic"], a["allow"]) for a in device_acls(device_id)}


async def test_a_broker_in_step_gets_no_change_and_keeps_its_devices_connected(
    registry: Backend, broker: ExternalMosquitto, admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages of two: the listings take several messages (a real broker holds 100,000 devices in pages of 1,000).
    monkeypatch.setattr(dynsec, "_LIST_PAGE", 2)
    connected = await asyncio.to_thread(TestDevice(broker.port, "dev-0", SECRETS["dev-0"]).connect)
    try:
        assert await DynsecAccounts(admin.control).reconcile(registry.registry) == 0
        assert admin.changes() == []
        pages = [c for c in admin.sent if c["command"] == "listRoles"]
        # Five device roles and the hub's own: three pages, the plugin's total saying when they are all in.
        assert [c["offset"] for c in pages] == [0, 2, 4]
        # A role written again would have disconnected the device: it still publishes on the same connection.
        await asyncio.to_thread(connected.publish, "devices/dev-0/telemetry", b'{"values": {"t": 1}}')
        assert not connected.disconnected.is_set()
    finally:
        await asyncio.to_thread(connected.close)


async def test_every_kind_of_drift_is_repaired_and_other_accounts_are_untouched(
    registry: Backend, admin: Admin, caplog: pytest.LogCaptureFixture
) -> None:
    extra_acl = {"acltype": "publishClientSend", "topic": "#", "allow": True}
    await admin.control.run(
        # By hand, behind the hub's back: a role's ACLs changed...
        {"command": "removeRoleACL", "rolename": role_name("dev-0"), "acltype": "publishClientSend",
         "topic": device_acls("dev-0")[0]["topic"]},
        {"command": "addRoleACL", "rolename": role_name("dev-0"), **extra_acl},
        # ...an enabled device disabled and a disabled one enabled, a role taken from its client...
        {"command": "disableClient", "username": "dev-1"},
        {"command": "enableClient", "username": DISABLED},
        {"command": "removeClientRole", "username": "dev-2", "rolename": role_name("dev-2")},
        # ...a client deleted (its role left), a device client the registry never had...
        {"command": "deleteClient", "username": "dev-3"},
        {"command": "createRole", "rolename": role_name("ghost"), "acls": device_acls("ghost")},
        {"command": "createClient", "username": "ghost", "password": "x", "textname": DEVICE_TEXTNAME,
         "roles": [{"rolename": role_name("ghost")}]},
        # ...and clients that are not devices, one of them with a registered device's name.
        {"command": "createClient", "username": "operator", "password": "x", "textname": "an operator"},
        {"command": "createClient", "username": "dev-9", "password": "x", "textname": "an operator"},
    )  # fmt: skip
    await with_devices(registry, "dev-9")
    before = {name: await client(admin, name) for name in ("operator", "dev-9")}
    admin.sent.clear()

    assert await DynsecAccounts(admin.control).reconcile(registry.registry) == 1
    assert sorted(admin.changes()) == sorted(
        [
            ("deleteRole", role_name("dev-0")),
            ("createRole", role_name("dev-0")),
            ("addClientRole", "dev-0"),
            ("enableClient", "dev-1"),
            ("addClientRole", "dev-2"),
            ("createClient", "dev-3"),
            ("disableClient", DISABLED),
            ("deleteClient", "ghost"),
            ("deleteRole", role_name("ghost")),
        ]
    )
    assert "1 device(s) were missing on the MQTT broker" in caplog.text
    assert "device dev-9 is not synced" in caplog.text
    for device_id in SECRETS:
        found = await client(admin, device_id)
        assert found is not None, device_id
        assert found["roles"] == [{"rolename": role_name(device_id)}], device_id
        assert found.get("disabled", False) == (device_id == DISABLED), device_id
        assert await role_acls(admin, role_name(device_id)) == wanted_acls(device_id), device_id
    assert await client(admin, "ghost") is None
    assert await role_acls(admin, role_name("ghost")) is None
    assert {name: await client(admin, name) for name in ("operator", "dev-9")} == before

    admin.sent.clear()
    assert await DynsecAccounts(admin.control).reconcile(registry.registry) == 0
    assert admin.changes() == [], "the repaired broker is in step"

"""The dynamic-security commands the hub sends: a device's ACL, and new devices in one message."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from contracts.topics import device_acl
from hub.broker.mosquitto.dynsec import CONTROL_TOPIC, DynsecAccounts, DynsecControl, device_acls, role_name

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize("device_id", ["a", "device", "devices", "d-1.x_y", "x" * 64])
def test_the_acl_holds_exactly_the_device_rules_with_its_own_id(device_id: str) -> None:
    rules = device_acl(device_id)
    acls = device_acls(device_id)
    sent = [(a["acltype"], a["topic"]) for a in acls if a["acltype"] != "publishClientReceive"]
    assert sent == [("publishClientSend" if action == "publish" else "subscribeLiteral", t) for action, t in rules]
    received = [a["topic"] for a in acls if a["acltype"] == "publishClientReceive"]
    assert received == [t for action, t in rules if action == "subscribe"]
    assert all(a["allow"] is True and a["topic"].startswith(f"devices/{device_id}/") for a in acls)


def test_an_invalid_device_id_gets_no_acl() -> None:
    with pytest.raises(ValueError, match="device id"):
        device_acls("a/+")


async def test_new_devices_go_to_the_plugin_in_one_message() -> None:
    sent: list[bytes] = []
    control: DynsecControl

    async def publish(topic: str, payload: bytes) -> None:
        assert topic == CONTROL_TOPIC
        sent.append(payload)
        commands = orjson.loads(payload)["commands"]
        answer = {"responses": [{"command": c["command"], "correlationData": c["correlationData"]} for c in commands]}
        asyncio.get_running_loop().call_soon(control.on_response, orjson.dumps(answer))

    control = DynsecControl(publish, lambda: True)
    await DynsecAccounts(control).devices_created({"d1": "secret-1", "d2": "secret-2"})
    assert len(sent) == 1
    commands = orjson.loads(sent[0])["commands"]
    assert [(c["command"], c.get("rolename") or c["username"]) for c in commands] == [
        ("createRole", role_name("d1")),
        ("createClient", "d1"),
        ("createRole", role_name("d2")),
        ("createClient", "d2"),
    ]
    assert [c.get("password") for c in commands if c["command"] == "createClient"] == ["secret-1", "secret-2"]

"""The audit trail on a real hub: changes and sign-ins recorded with who, what, where and how it went; admins of
a tenant see its records; filters, retention, and the records on a northbound stream."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.runtime import HubRuntime
from hub.streams.kafka import AUDIT_TOPIC
from tests.helpers.hub import ADMIN_PASSWORD, Api, running_hub
from tests.helpers.kafka_topic import Record, read_records
from tests.helpers.mqtt import TestDevice
from tests.helpers.nats_server import NatsServer, wait_for_records
from tests.helpers.process import cli_env, fieldhub
from tests.helpers.tansu import TansuBroker
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)

AUDIT = "/api/v1/audit"
DEVICES = "/api/v1/devices"
PASSWORD = "a-long-password-1"
HOT = {"name": "Too hot", "key": "temp", "kind": "threshold", "op": ">", "value": 30}


async def records(api: Api, count: int, **params: str) -> list[dict[str, Any]]:
    """The records matching ``params`` once there are at least ``count`` (the writer stores them soon after)."""

    async def listed() -> list[dict[str, Any]] | None:
        response = await api.http.get(AUDIT, params=params)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items if len(items) >= count else None

    found: list[dict[str, Any]] = await eventually(listed, what=f"{count} audit record(s) for {params}")
    return found


async def tenant_admin(hub: HubRuntime, api: Api, tenant: str) -> Api:
    await api.created("/api/v1/tenants", {"id": tenant, "name": tenant.title()})
    user = {"username": f"boss-{tenant}", "password": PASSWORD, "tenant": tenant, "role": "admin"}
    await api.created("/api/v1/users", user)
    return await Api.login(hub.url, f"boss-{tenant}", PASSWORD)


async def test_device_changes_are_recorded_with_actor_tenant_address_and_outcome(api: Api, unique_id: str) -> None:
    await api.create_device(unique_id)
    assert (await api.http.delete(f"{DEVICES}/{unique_id}")).status_code == 204
    deleted, created = await records(api, 2, target=unique_id)
    assert (created["action"], created["outcome"], created["status"]) == ("device.create", "ok", 201)
    assert (deleted["action"], deleted["outcome"], deleted["status"]) == ("device.delete", "ok", 204)
    for record in (created, deleted):
        assert record["actor"] == {"kind": "user", "id": "admin"}
        assert (record["tenant"], record["address"]) == ("default", "127.0.0.1")
    assert deleted["id"] > created["id"] and deleted["ts"] >= created["ts"]


async def test_rule_changes_and_refused_calls_are_recorded(hub: HubRuntime, api: Api) -> None:
    rule = await api.created("/api/v1/rules", {**HOT, "selector": {}})
    assert (await api.http.patch(f"/api/v1/rules/{rule['id']}", json={"value": 35})).status_code == 200
    await api.refused("DELETE", "/api/v1/rules/no-such-rule", 404)
    await api.refused("POST", DEVICES, 422, {"id": "bad id!"})
    [deleted, updated, made] = await records(api, 3, action="rule.")
    assert [made["action"], updated["action"], deleted["action"]] == ["rule.create", "rule.update", "rule.delete"]
    assert (made["target"], updated["target"]) == (rule["id"], rule["id"])
    assert (deleted["target"], deleted["outcome"], deleted["status"]) == ("no-such-rule", "not_found", 404)
    [invalid] = await records(api, 1, action="device.create")
    assert (invalid["outcome"], invalid["status"], invalid["target"]) == ("invalid_request", 422, None)
    assert "bad id!" not in str(invalid)  # request bodies are never recorded
    other = await tenant_admin(hub, api, "acme")
    plain = {"username": "plain-acme", "password": PASSWORD, "tenant": "acme"}
    await other.created("/api/v1/users", plain)
    user = await Api.login(hub.url, "plain-acme", PASSWORD)
    try:
        await user.refused("POST", "/api/v1/tenants", 403, {"id": "mine", "name": "Mine"})
    finally:
        await user.close()
        await other.close()
    [forbidden] = await records(api, 1, action="tenant.create", actor="plain-acme")
    assert (forbidden["outcome"], forbidden["status"], forbidden["tenant"]) == ("forbidden", 403, "acme")


async def test_sign_ins_are_recorded_with_the_client_address_and_never_a_password(hub: HubRuntime, api: Api) -> None:
    async with httpx.AsyncClient(base_url=hub.url) as client:
        tried = {"username": "admin", "password": "not-the-password"}
        wrong = await client.post("/api/v1/auth/token", data=tried, headers={"X-Forwarded-For": "198.51.100.4"})
        assert wrong.status_code == 401
        right = {"username": "admin", "password": ADMIN_PASSWORD}
        assert (await client.post("/api/v1/auth/session", json=right)).status_code == 200
    [failed] = await records(api, 1, action="auth.sign_in_failed")
    assert failed["actor"] == {"kind": "user", "id": "admin"} and failed["address"] == "198.51.100.4"
    assert (failed["outcome"], failed["status"], failed["detail"]) == ("unauthorized", 401, {"via": "token"})
    assert "not-the-password" not in str(failed)
    # The api fixture's own sign-in, then the session's.
    session, _fixture = await records(api, 2, action="auth.sign_in")
    assert (session["outcome"], session["detail"], session["tenant"]) == ("ok", {"via": "session"}, None)


async def test_enrollments_are_recorded_as_the_device(hub: HubRuntime, api: Api, unique_id: str) -> None:
    made = await api.created("/api/v1/provisioning-tokens", {})
    token_id = made["id"]
    async with httpx.AsyncClient(base_url=hub.url) as anonymous:
        wrong = {"token": f"{token_id}.not-the-secret", "name": "Pi", "id": f"{unique_id}-x"}
        assert (await anonymous.post("/api/v1/enroll", json=wrong)).status_code == 401
        right = {"token": made["token"], "name": "Pi", "id": unique_id}
        assert (await anonymous.post("/api/v1/enroll", json=right)).status_code == 201
    enrolled, refused = await records(api, 2, action="device.enroll")
    assert enrolled["actor"] == {"kind": "device", "id": unique_id}
    assert (enrolled["target"], enrolled["tenant"], enrolled["outcome"]) == (unique_id, "default", "ok")
    assert enrolled["detail"] == {"token": token_id} and made["token"] not in str(enrolled)
    assert (refused["outcome"], refused["status"], refused["actor"]["id"]) == ("unauthorized", 401, f"{unique_id}-x")


async def test_admins_see_their_tenants_records_and_plain_users_none(hub: HubRuntime, api: Api) -> None:
    acme = await tenant_admin(hub, api, "acme")
    try:
        await acme.create_device("acme-dev")
        await api.create_device("default-dev")
        [mine] = await records(acme, 1, action="device.create")
        assert (mine["target"], mine["tenant"], mine["actor"]["id"]) == ("acme-dev", "acme", "boss-acme")
        assert {r["tenant"] for r in (await acme.http.get(AUDIT)).json()["items"]} == {"acme"}
        await acme.refused("GET", AUDIT, 404, tenant="default")
        # The platform admin sees every tenant's, or one's.
        everything = await records(api, 2, action="device.create")
        assert [r["target"] for r in everything] == ["default-dev", "acme-dev"]
        assert [r["target"] for r in await records(api, 1, action="device.create", tenant="acme")] == ["acme-dev"]
        await acme.created("/api/v1/users", {"username": "plain-acme", "password": PASSWORD, "tenant": "acme"})
    finally:
        await acme.close()
    plain = await Api.login(hub.url, "plain-acme", PASSWORD)
    try:
        await plain.refused("GET", AUDIT, 403)
    finally:
        await plain.close()


async def test_filters_and_pages(api: Api, unique_id: str) -> None:
    for n in range(3):
        await api.create_device(f"{unique_id}-{n}")
    made = await records(api, 3, action="device.create")
    assert [r["target"] for r in made] == [f"{unique_id}-{n}" for n in (2, 1, 0)]
    assert await records(api, 1, actor="admin", target=f"{unique_id}-1") == [made[1]]
    first = await api.http.get(AUDIT, params={"action": "device.", "limit": 2})
    page = first.json()
    assert [r["target"] for r in page["items"]] == [f"{unique_id}-2", f"{unique_id}-1"]
    second = await api.http.get(AUDIT, params={"action": "device.", "limit": 2, "before": page["next_before"]})
    assert [r["target"] for r in second.json()["items"]] == [f"{unique_id}-0"]
    assert second.json()["next_before"] is None
    window = {"start": str(made[1]["ts"]), "end": str(made[0]["ts"] + 1), "action": "device.create"}
    assert {r["target"] for r in await records(api, 1, **window)} <= {f"{unique_id}-1", f"{unique_id}-2"}
    assert (await api.http.get(AUDIT, params={"start": "9999-01-01T00:00:00Z"})).json()["items"] == []
    await api.refused("GET", AUDIT, 422, action="Device!")


async def test_old_records_are_removed(tmp_path: Path) -> None:
    # Two seconds of retention, trimmed ten times a second.
    audit = {"retention_days": 2 / 86_400, "retention_interval_s": 0.1}
    async with running_hub(tmp_path / "data", audit=audit) as hub:
        api = await Api.login(hub.url)
        try:
            await api.create_device("short-lived")
            await records(api, 1, target="short-lived")

            async def gone() -> bool:
                items = (await api.http.get(AUDIT, params={"target": "short-lived"})).json()["items"]
                return not items

            await eventually(gone, within=15, what="the record removed by retention")
        finally:
            await api.close()


async def test_records_reach_the_audit_stream(tmp_path: Path, nats_server: NatsServer) -> None:
    async with running_hub(tmp_path / "data", stream=[nats_server.url]) as hub:
        api = await Api.login(hub.url)
        try:
            await api.create_device("streamed")
            [stored] = await records(api, 1, target="streamed")
        finally:
            await api.close()
        streamed = await wait_for_records(nats_server.url, "fieldhub-audit", 2)
    by_action = {record["action"]: (record, headers) for record, headers in streamed}
    record, headers = by_action["device.create"]
    assert record == {"schema_version": 1, **stored}
    assert headers["Fieldhub-Record"] == "audit" and headers["Fieldhub-Tenant"] == "default"
    assert headers["Nats-Msg-Id"] == f"audit-{stored['id']}"
    sign_in, sign_in_headers = by_action["auth.sign_in"]
    assert sign_in["tenant"] is None and sign_in_headers["Fieldhub-Tenant"] == "_platform"


async def test_a_tenant_called_audit_streams_beside_the_audit_records(tmp_path: Path, nats_server: NatsServer) -> None:
    async with running_hub(tmp_path / "data", stream=[nats_server.url]) as hub:
        api = await Api.login(hub.url)
        try:
            await api.created("/api/v1/tenants", {"id": "audit", "name": "Audit"})
            secret = (await api.create_device("ledger", tenant="audit"))["credentials"]["password"]
            await records(api, 1, target="ledger")
        finally:
            await api.close()
        device = await asyncio.to_thread(TestDevice(hub.mqtt_port, "ledger", secret).connect)
        try:
            await asyncio.to_thread(device.publish, "devices/ledger/telemetry", b'{"values": {"n": 1}}')
        finally:
            await asyncio.to_thread(device.close)
        # Both streams exist and take their records: the audit subjects never overlap a tenant's.
        [(reading, _)] = await wait_for_records(nats_server.url, "fieldhub_audit", 1)
        assert reading["device_id"] == "ledger"
        audited = await wait_for_records(nats_server.url, "fieldhub-audit", 3)
        assert "device.create" in {record["action"] for record, _ in audited}


async def test_records_reach_the_audit_topic_keyed_by_tenant(tmp_path: Path, kafka: TansuBroker) -> None:
    async with running_hub(tmp_path / "data", stream=[f"kafka://{kafka.bootstrap}"]) as hub:
        api = await Api.login(hub.url)
        try:
            await api.create_device("streamed")
            [stored] = await records(api, 1, target="streamed")
        finally:
            await api.close()

        def both(got: list[Record]) -> bool:  # two keys, maybe two partitions: read until both came
            return {"auth.sign_in", "device.create"} <= {record["action"] for record, _, _ in got}

        streamed = await asyncio.to_thread(read_records, kafka.bootstrap, AUDIT_TOPIC, both, 40.0)
    by_action = {record["action"]: (record, key, head) for record, key, head in streamed}
    record, key, head = by_action["device.create"]
    assert record == {"schema_version": 1, **stored}
    assert key == b"default"
    assert head == {
        "Fieldhub-Tenant": b"default",
        "Fieldhub-Record": b"audit",
        "Fieldhub-Audit-Id": b"audit-%d" % stored["id"],
    }
    sign_in, sign_in_key, sign_in_head = by_action["auth.sign_in"]  # the admin's sign-in came first, of no tenant
    assert sign_in["tenant"] is None and sign_in["id"] < stored["id"]
    assert sign_in_key == b"_platform" and sign_in_head["Fieldhub-Tenant"] == b"_platform"


async def test_the_cli_lists_the_trail_with_filters(hub: HubRuntime, api: Api, unique_id: str, tmp_path: Path) -> None:
    env = cli_env(XDG_CONFIG_HOME=str(tmp_path / "config"), FIELDHUB_HUB=hub.url)
    await api.create_device(unique_id)
    await records(api, 1, target=unique_id)
    listed = await asyncio.to_thread(fieldhub, "audit", "--action", "device.", "--since", "1h", env=env)
    assert listed.returncode == 0, listed.stderr
    [header, row] = listed.stdout.splitlines()
    assert header.split()[:3] == ["TS", "ACTOR", "ACTION"]
    assert "user:admin" in row and "device.create" in row and unique_id in row and "ok" in row
    as_json = await asyncio.to_thread(fieldhub, "audit", "--target", unique_id, "-o", "json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    assert [r["action"] for r in json.loads(as_json.stdout)["items"]] == ["device.create"]
    later = await asyncio.to_thread(fieldhub, "audit", "--since", "2999-01-01T00:00:00Z", env=env)
    assert later.returncode == 0 and len(later.stdout.splitlines()) <= 1, later.stderr


async def test_keys_logouts_disabled_users_and_locked_sign_ins_are_recorded(hub: HubRuntime, api: Api) -> None:
    key = await api.created("/api/v1/api-keys", {"name": "ci"})
    async with httpx.AsyncClient(base_url=hub.url, headers={"Authorization": f"Bearer {key['key']}"}) as robot:
        made = await robot.post(DEVICES, json={"id": "made-by-key", "name": "k"})
        assert made.status_code == 201, made.text
    assert (await api.http.delete(f"/api/v1/api-keys/{key['id']}")).status_code == 204
    await api.created("/api/v1/users", {"username": "carol", "password": PASSWORD, "role": "user", "tenant": "default"})
    assert (await api.http.patch("/api/v1/users/carol", json={"disabled": True})).status_code == 200
    async with httpx.AsyncClient(base_url=hub.url) as client:
        for _ in range(11):  # the 11th is refused before any password is checked
            last = await client.post("/api/v1/auth/token", data={"username": "mallory", "password": "guess"})
        assert last.status_code == 429
    other = await Api.login(hub.url)
    assert (await other.http.post("/api/v1/auth/logout")).status_code == 204
    await other.close()

    [created_key] = await records(api, 1, action="api_key.create")
    assert created_key["actor"] == {"kind": "user", "id": "admin"} and created_key["target"] == key["id"]
    [device] = await records(api, 1, action="device.create", target="made-by-key")
    assert device["actor"] == {"kind": "api_key", "id": key["id"]}
    [revoked] = await records(api, 1, action="api_key.delete")
    assert (revoked["target"], revoked["outcome"]) == (key["id"], "ok")
    [disabled] = await records(api, 1, action="user.update", target="carol")
    assert disabled["outcome"] == "ok"
    locked = await records(api, 11, action="auth.sign_in_failed", actor="mallory")
    assert [r["outcome"] for r in locked].count("too_many_requests") == 1
    [logout] = await records(api, 1, action="auth.logout")
    assert logout["outcome"] == "ok"

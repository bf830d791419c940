"""Profiles, rules and notification channels through a real hub's API: made, changed and removed, every refusal,
devices following profiles, and each tenant seeing its own only (alarms themselves: test_alarms_api.py)."""

from __future__ import annotations

import pytest

from cloud.runtime import HubRuntime
from tests.helpers.hub import Api
from tests.integration.test_events_api import other_tenant_user

pytestmark = pytest.mark.timeout(60)

PROFILES = "/api/v1/profiles"
RULES = "/api/v1/rules"
CHANNELS = "/api/v1/channels"
DEVICES = "/api/v1/devices"
THERMO = {
    "id": "thermo",
    "name": "Thermometer",
    "keys": {"temp": {"unit": "°C", "min": -40, "max": 85}},
    "labels": {"kind": "thermo", "site": "a"},
}
HOT = {"name": "Too hot", "key": "temp", "kind": "threshold", "op": ">", "value": 30}


async def ids(api: Api, path: str, **params: str) -> list[str]:
    response = await api.http.get(path, params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_profiles_are_made_changed_and_kept_while_named(api: Api, unique_id: str) -> None:
    profile = await api.created(PROFILES, THERMO)
    assert (profile["tenant"], profile["strict"], profile["keys"]["temp"]["type"]) == ("default", False, "number")
    assert await api.refused("POST", PROFILES, 409, THERMO)
    assert await api.refused("POST", PROFILES, 422, {"name": "x", "keys": {"on": {"type": "boolean", "min": 0}}})
    generated = await api.created(PROFILES, {"name": "Plain"})
    assert generated["id"].startswith("p-")
    assert await ids(api, PROFILES) == sorted(["thermo", generated["id"]])

    changed = (await api.http.patch(f"{PROFILES}/thermo", json={"strict": True, "description": "cold room"})).json()
    assert (changed["strict"], changed["description"], changed["labels"]) == (True, "cold room", THERMO["labels"])
    assert changed["updated"] >= profile["updated"]
    assert await api.refused("PATCH", f"{PROFILES}/thermo", 422, {"keys": {"temp": {"min": 5, "max": 1}}})
    assert (await api.http.get(f"{PROFILES}/thermo")).json() == changed

    # A device of the profile starts with its labels; its own labels win.
    device = await api.create_device(unique_id, profile="thermo", labels={"site": "b"})
    assert (device["profile"], device["labels"]) == ("thermo", {"kind": "thermo", "site": "b"})
    other = await api.create_device(f"{unique_id}-2")
    assert other["profile"] is None
    assert "'nope'" in await api.refused("POST", DEVICES, 422, {"id": f"{unique_id}-3", "name": "x", "profile": "nope"})
    assert [d["id"] for d in (await api.http.get(DEVICES, params={"profile": "thermo"})).json()["items"]] == [unique_id]
    assert "'nope'" in await api.refused("PATCH", f"{DEVICES}/{other['id']}", 422, {"profile": "nope"})
    # Taking a profile later, or a change of its labels, leaves a device's labels as they are.
    assert (await api.http.patch(f"{DEVICES}/{other['id']}", json={"profile": "thermo"})).json()["labels"] == {}
    relabelled = await api.http.patch(f"{PROFILES}/thermo", json={"labels": {"kind": "probe"}})
    assert relabelled.json()["labels"] == {"kind": "probe"}
    assert (await api.http.get(f"{DEVICES}/{unique_id}")).json()["labels"] == {"kind": "thermo", "site": "b"}
    assert (await api.http.patch(f"{DEVICES}/{other['id']}", json={"profile": ""})).json()["profile"] is None

    # Named by a device and a rule: kept until neither does.
    rule = await api.created(RULES, {**HOT, "profile": "thermo"})
    message = await api.refused("DELETE", f"{PROFILES}/thermo", 409)
    assert "1 device(s) and 1 rule(s)" in message
    assert (await api.http.patch(f"{DEVICES}/{unique_id}", json={"profile": ""})).json()["profile"] is None
    assert (await api.http.delete(f"{RULES}/{rule['id']}")).status_code == 204
    assert (await api.http.delete(f"{PROFILES}/thermo")).status_code == 204
    assert await api.refused("GET", f"{PROFILES}/thermo", 404)
    assert await api.refused("DELETE", f"{PROFILES}/thermo", 404)


async def test_rules_are_checked_whole_on_every_change(hub: HubRuntime, api: Api) -> None:
    await api.created(PROFILES, THERMO)
    rule = await api.created(RULES, {**HOT, "id": "hot", "selector": {"site": "a"}, "severity": "critical"})
    assert (rule["tenant"], rule["enabled"], rule["for_s"], rule["notify_on"]) == ("default", True, 0, ["active"])
    assert "unknown field {nope}" in await api.refused("POST", RULES, 422, {**HOT, "selector": {}, "message": "{nope}"})
    both = await api.refused("POST", RULES, 422, {**HOT, "profile": "thermo", "selector": {}})
    assert "either a profile or a selector" in both
    assert "'gone'" in await api.refused("POST", RULES, 422, {**HOT, "profile": "gone"})
    assert "ch-000000000000" in await api.refused(
        "POST", RULES, 422, {**HOT, "selector": {}, "channels": ["ch-000000000000"]}
    )
    assert await api.refused("POST", RULES, 409, {**HOT, "id": "hot", "selector": {}})

    # A change is checked with the rest of the rule: a range rule needs low and high.
    assert "low <= high" in await api.refused("PATCH", f"{RULES}/hot", 422, {"kind": "range"})
    ranged = (await api.http.patch(f"{RULES}/hot", json={"kind": "range", "low": 0, "high": 30})).json()
    assert (ranged["kind"], ranged["low"], ranged["high"], ranged["severity"]) == ("range", 0, 30, "critical")
    moved = await api.http.patch(f"{RULES}/hot", json={"profile": "thermo", "selector": None, "enabled": False})
    assert moved.status_code == 200, moved.text
    assert (await api.http.get(f"{RULES}/hot")).json() == moved.json()

    cold = await api.created(RULES, {**HOT, "name": "Too cold", "op": "<", "value": 0, "selector": {}})
    assert cold["id"].startswith("r-")
    assert await ids(api, RULES) == sorted(["hot", cold["id"]])
    assert await ids(api, RULES, profile="thermo") == ["hot"]
    assert await ids(api, RULES, enabled="false") == ["hot"]
    assert await ids(api, RULES, enabled="true") == [cold["id"]]
    assert (await api.http.delete(f"{RULES}/hot")).status_code == 204
    assert await api.refused("DELETE", f"{RULES}/hot", 404)
    assert await api.refused("PATCH", f"{RULES}/hot", 404, {"enabled": True})


async def test_channels_tell_their_secret_once_and_stay_while_a_rule_names_them(api: Api, unique_id: str) -> None:
    hook = await api.created(
        CHANNELS, {"name": "ops hook", "target": {"kind": "webhook", "url": "http://127.0.0.1:9/"}}
    )
    assert hook["id"].startswith("ch-") and hook["secret"].startswith("whsec_") and hook["kind"] == "webhook"
    assert hook["rate_per_min"] == 30 and hook["deliveries"] == {
        "delivered": 0,
        "failed_attempts": 0,
        "dropped": 0,
        "suppressed": 0,
        "last_attempt": None,
        "last_error": None,
        "last_delivered": None,
    }
    shown = (await api.http.get(f"{CHANNELS}/{hook['id']}")).json()
    assert "secret" not in shown and shown["name"] == "ops hook"
    assert [c for c in (await api.http.get(CHANNELS)).json()["items"] if "secret" in c] == []

    await api.create_device(unique_id)
    siren = await api.created(CHANNELS, {"name": "siren", "target": {"kind": "mqtt", "device": unique_id}})
    assert siren["secret"] is None
    assert "no device 'nobody'" in await api.refused(
        "POST", CHANNELS, 422, {"name": "x", "target": {"kind": "mqtt", "device": "nobody"}}
    )
    assert "[smtp]" in await api.refused(
        "POST", CHANNELS, 422, {"name": "x", "target": {"kind": "email", "to": ["ops@example.com"]}}
    )
    assert "no stream" in await api.refused("POST", CHANNELS, 422, {"name": "x", "target": {"kind": "stream"}})
    renamed = (await api.http.patch(f"{CHANNELS}/{hook['id']}", json={"name": "on call", "rate_per_min": 5})).json()
    assert (renamed["name"], renamed["rate_per_min"], renamed["kind"]) == ("on call", 5, "webhook")
    other_kind = {"target": {"kind": "mqtt", "device": unique_id}}
    assert "stays one" in await api.refused("PATCH", f"{CHANNELS}/{hook['id']}", 422, other_kind)

    rule = await api.created(RULES, {**HOT, "selector": {}, "channels": [hook["id"], siren["id"]]})
    assert rule["channels"] == [hook["id"], siren["id"]]
    assert rule["id"] in await api.refused("DELETE", f"{CHANNELS}/{hook['id']}", 409)
    assert (await api.http.patch(f"{RULES}/{rule['id']}", json={"channels": [siren["id"]]})).status_code == 200
    assert (await api.http.delete(f"{CHANNELS}/{hook['id']}")).status_code == 204
    assert await api.refused("GET", f"{CHANNELS}/{hook['id']}", 404)
    assert await ids(api, CHANNELS) == [siren["id"]]


async def test_each_tenant_sees_its_own_profiles_rules_and_channels(hub: HubRuntime, api: Api) -> None:
    other = await other_tenant_user(hub, api)
    try:
        await api.created(PROFILES, THERMO)
        mine_channel = await api.created(
            CHANNELS, {"name": "mine", "target": {"kind": "webhook", "url": "http://x.test/"}}
        )
        mine_rule = await api.created(RULES, {**HOT, "profile": "thermo", "channels": [mine_channel["id"]]})

        theirs_profile = await other.created(PROFILES, {**THERMO, "id": "meter"})
        theirs_channel = await other.created(
            CHANNELS, {"name": "theirs", "target": {"kind": "webhook", "url": "http://y.test/"}}
        )
        theirs_rule = await other.created(RULES, {**HOT, "profile": "meter"})
        assert {theirs_profile["tenant"], theirs_rule["tenant"]} == {"other"}

        # The other tenant sees none of mine, and naming one of mine is as if it did not exist.
        assert await ids(other, PROFILES) == ["meter"]
        assert await ids(other, RULES) == [theirs_rule["id"]]
        assert await ids(other, CHANNELS) == [theirs_channel["id"]]
        for path in (f"{PROFILES}/thermo", f"{RULES}/{mine_rule['id']}", f"{CHANNELS}/{mine_channel['id']}"):
            assert await other.refused("GET", path, 404)
            assert await other.refused("DELETE", path, 404)
        assert await other.refused("PATCH", f"{PROFILES}/thermo", 404, {"strict": True})
        assert await other.refused("GET", PROFILES + "?tenant=default", 404)
        # A rule may name only its own tenant's profiles and channels.
        assert "'thermo'" in await other.refused("POST", RULES, 422, {**HOT, "profile": "thermo"})
        foreign = {**HOT, "profile": "meter", "channels": [mine_channel["id"]]}
        assert mine_channel["id"] in await other.refused("POST", RULES, 422, foreign)
        assert "'thermo'" in await other.refused("POST", DEVICES, 422, {"name": "d", "profile": "thermo"})

        # The platform admin sees every tenant's, or one tenant's with ?tenant=.
        assert await ids(api, PROFILES) == ["thermo", "meter"]  # by tenant, then id
        assert await ids(api, PROFILES, tenant="other") == ["meter"]
        assert await ids(api, RULES, tenant="default") == [mine_rule["id"]]
        assert sorted(await ids(api, CHANNELS)) == sorted([mine_channel["id"], theirs_channel["id"]])
        assert await ids(api, CHANNELS, tenant="other") == [theirs_channel["id"]]
        # Channel ids are unique in the hub: the platform admin names one without a tenant.
        assert (await api.http.get(f"{CHANNELS}/{theirs_channel['id']}")).json()["tenant"] == "other"
        meter = await api.http.get(f"{PROFILES}/meter", params={"tenant": "other"})
        assert meter.json()["tenant"] == "other"
        assert await api.refused("GET", f"{PROFILES}/meter", 404)  # one profile: the default tenant's
        made = await api.created(PROFILES, {"id": "valve", "name": "Valve"}, tenant="other")
        assert made["tenant"] == "other" and await ids(other, PROFILES) == ["meter", "valve"]
        assert await api.refused("POST", PROFILES + "?tenant=nowhere", 404, {"name": "x"})
    finally:
        await other.close()

"""Alarms through a real hub's API: raised by a real MQTT device's reading, listed with filters, acknowledged and
cleared by hand, followed live (and resumed) on the stream, each tenant seeing its own only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from cloud.runtime import HubRuntime
from tests.helpers.hub import Api
from tests.helpers.mqtt import TestDevice
from tests.helpers.waiting import eventually
from tests.integration.test_events_api import frames, other_tenant_user
from tests.integration.test_rule_api import HOT, PROFILES

pytestmark = pytest.mark.timeout(60)

ALARMS = "/api/v1/alarms"


async def hot_device(hub: HubRuntime, api: Api, device_id: str, **rule: Any) -> tuple[TestDevice, dict[str, Any]]:
    """A device of ``api``'s tenant, connected, watched by a rule raising at once above 30."""
    secret = (await api.create_device(device_id, labels={"room": device_id}))["credentials"]["password"]
    made = await api.created("/api/v1/rules", {**HOT, "selector": {"room": device_id}, "for_s": 0, **rule})
    return await asyncio.to_thread(TestDevice(hub.mqtt_port, device_id, secret).connect), made


async def publish(device: TestDevice, values: dict[str, Any]) -> None:
    topic = f"devices/{device.client_id}/telemetry"
    await asyncio.to_thread(device.publish, topic, orjson.dumps({"values": values}))


async def listed(api: Api, **params: Any) -> dict[str, Any]:
    response = await api.http.get(ALARMS, params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def alarm_frame(received: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    frame = await asyncio.wait_for(anext(received), 15)
    assert frame["event"] == "alarm", frame
    return frame


async def test_an_alarm_is_acknowledged_and_cleared_once_each_and_streamed(
    hub: HubRuntime, api: Api, unique_id: str
) -> None:
    device, rule = await hot_device(hub, api, unique_id, severity="critical", message="{device} at {value}")
    try:
        async with (
            api.http.stream("GET", f"{ALARMS}/stream") as everything,
            api.http.stream("GET", f"{ALARMS}/stream", params={"state": ["acknowledged", "cleared"]}) as handled,
        ):
            received, filtered = frames(everything), frames(handled)
            assert await anext(received) == {"connected": True}
            assert await anext(filtered) == {"connected": True}
            await publish(device, {"temp": 25})
            await publish(device, {"temp": 45.5})

            raised = await alarm_frame(received)
            alarm = raised["data"]
            assert (alarm["kind"], alarm["state"], alarm["device"], alarm["rule"]) == (
                "alarm.raised",
                "active",
                unique_id,
                rule["id"],
            )
            assert (alarm["value"], alarm["severity"], alarm["message"]) == (45.5, "critical", f"{unique_id} at 45.5")
            assert "history" not in alarm
            page = await listed(api, state="active")
            assert (page["total"], [a["id"] for a in page["items"]]) == (1, [alarm["id"]])
            assert "history" not in page["items"][0]

            acked = await api.http.post(f"{ALARMS}/{alarm['id']}/ack", json={"note": "on my way"})
            assert acked.status_code == 200, acked.text
            assert (acked.json()["state"], acked.json()["acknowledged_by"]) == ("acknowledged", "admin")
            assert "acknowledged" in await api.refused("POST", f"{ALARMS}/{alarm['id']}/ack", 409)
            frame = await alarm_frame(received)
            assert (frame["data"]["kind"], frame["data"]["acknowledged_by"]) == ("alarm.acknowledged", "admin")
            assert frame["id"] > raised["id"]
            # The filtered stream left out the raise.
            assert (await alarm_frame(filtered))["data"]["kind"] == "alarm.acknowledged"

            cleared = await api.http.post(f"{ALARMS}/{alarm['id']}/clear")
            assert (cleared.json()["state"], cleared.json()["cleared_by"]) == ("cleared", "admin")
            assert await api.refused("POST", f"{ALARMS}/{alarm['id']}/clear", 409, {"note": "again"})
            assert await api.refused("POST", f"{ALARMS}/{alarm['id']}/ack", 409)
            assert (await alarm_frame(received))["data"]["kind"] == "alarm.cleared"
            assert (await alarm_frame(filtered))["data"]["state"] == "cleared"

        shown = (await api.http.get(f"{ALARMS}/{alarm['id']}")).json()
        assert [(c["state"], c["by"], c["note"], c["value"]) for c in shown["history"]] == [
            ("active", None, None, 45.5),
            ("acknowledged", "admin", "on my way", None),
            ("cleared", "admin", None, None),
        ]

        # Each change is an event too.
        events = (await api.http.get("/api/v1/events", params={"kind": "alarm.", "node": unique_id})).json()
        assert [e["kind"] for e in events["items"]] == ["alarm.cleared", "alarm.acknowledged", "alarm.raised"]
        assert events["items"][-1]["id"] == raised["id"]

        # Reconnecting with Last-Event-ID (or ?after=) replays the changes since.
        for resume in ({"headers": {"Last-Event-ID": str(raised["id"])}}, {"params": {"after": raised["id"]}}):
            async with api.http.stream("GET", f"{ALARMS}/stream", **resume) as resumed:
                replay = frames(resumed)
                assert await anext(replay) == {"connected": True}
                assert [(await alarm_frame(replay))["data"]["kind"] for _ in range(2)] == [
                    "alarm.acknowledged",
                    "alarm.cleared",
                ]
    finally:
        await asyncio.to_thread(device.close)


async def test_alarms_are_listed_with_filters(hub: HubRuntime, api: Api, unique_id: str) -> None:
    device, rule = await hot_device(hub, api, unique_id)
    try:
        await publish(device, {"temp": 40})
        first = await eventually(lambda: _only(api, state="active"), what="the alarm raised")
        await api.http.post(f"{ALARMS}/{first['id']}/clear")
        await publish(device, {"temp": 41})  # a new alarm, the first being cleared
        second = await eventually(lambda: _only(api, state="active"), what="the second alarm raised")
    finally:
        await asyncio.to_thread(device.close)
    both = await listed(api)
    assert [a["id"] for a in both["items"]] == [second["id"], first["id"]]  # newest raised first
    assert (both["total"], both["limit"], both["offset"]) == (2, 100, 0)
    paged = await listed(api, limit=1, offset=1)
    assert ([a["id"] for a in paged["items"]], paged["total"]) == ([first["id"]], 2)
    assert [a["id"] for a in (await listed(api, state=["cleared", "acknowledged"]))["items"]] == [first["id"]]
    assert (await listed(api, severity="critical"))["total"] == 0
    assert (await listed(api, severity=["critical", "major"]))["total"] == 2
    assert (await listed(api, device=unique_id, rule=rule["id"]))["total"] == 2
    assert (await listed(api, device="someone-else"))["total"] == 0
    assert (await listed(api, start=str(second["raised"])))["total"] == 1
    assert (await listed(api, start="2000-01-01T00:00:00Z", end=str(second["raised"])))["total"] == 1
    # Without its rule, an alarm stays as history.
    assert (await api.http.delete(f"/api/v1/rules/{rule['id']}")).status_code == 204
    assert (await listed(api, rule=rule["id"]))["total"] == 2
    for bad in ({"start": "yesterday"}, {"start": "5", "end": "5"}, {"state": "open"}, {"severity": "loud"}):
        assert (await api.http.get(ALARMS, params=bad)).status_code == 422, bad


async def _only(api: Api, **params: Any) -> dict[str, Any] | None:
    items = (await listed(api, **params))["items"]
    return items[0] if len(items) == 1 else None


async def test_each_tenant_sees_and_handles_its_own_alarms(hub: HubRuntime, api: Api, unique_id: str) -> None:
    other = await other_tenant_user(hub, api)
    mine, _ = await hot_device(hub, api, unique_id)
    theirs, _ = await hot_device(hub, other, f"{unique_id}-b", severity="minor")
    token = other.http.headers["Authorization"].removeprefix("Bearer ")
    try:
        # An EventSource cannot set headers: the token may come as ?access_token=.
        async with (
            httpx.AsyncClient(base_url=hub.url, timeout=20) as browser,
            browser.stream("GET", f"{ALARMS}/stream", params={"access_token": token}) as their_stream,
            api.http.stream("GET", f"{ALARMS}/stream", params={"device": f"{unique_id}-b"}) as by_device,
            api.http.stream("GET", f"{ALARMS}/stream", params={"severity": "minor"}) as by_severity,
        ):
            streams = [frames(their_stream), frames(by_device), frames(by_severity)]
            for received in streams:
                assert await anext(received) == {"connected": True}
            await publish(mine, {"temp": 50})
            alarm = await eventually(lambda: _only(api, device=unique_id), what="my alarm raised")
            await publish(theirs, {"temp": 60})
            # Each stream's first frame is their alarm, never mine: another tenant's, device's, severity.
            for received in streams:
                frame = await alarm_frame(received)
                assert (frame["data"]["device"], frame["data"]["tenant"]) == (f"{unique_id}-b", "other")

        assert [a["device"] for a in (await listed(other))["items"]] == [f"{unique_id}-b"]
        for method, path in (("GET", alarm["id"]), ("POST", f"{alarm['id']}/ack"), ("POST", f"{alarm['id']}/clear")):
            assert await other.refused(method, f"{ALARMS}/{path}", 404)
        assert await other.refused("GET", f"{ALARMS}?tenant=default", 404)
        # The platform admin sees both, or one tenant's with ?tenant=, and handles either.
        assert (await listed(api))["total"] == 2
        [their_alarm] = (await listed(api, tenant="other"))["items"]
        acked = (await api.http.post(f"{ALARMS}/{their_alarm['id']}/ack")).json()
        assert (acked["tenant"], acked["acknowledged_by"]) == ("other", "admin")
    finally:
        await asyncio.to_thread(mine.close)
        await asyncio.to_thread(theirs.close)
        await other.close()


async def test_a_lenient_profile_stores_and_flags_what_does_not_fit(hub: HubRuntime, api: Api, unique_id: str) -> None:
    await api.created(PROFILES, {"id": "meter", "name": "Meter", "keys": {"temp": {"min": -40, "max": 85}}})
    secret = (await api.create_device(unique_id, profile="meter"))["credentials"]["password"]
    device = await asyncio.to_thread(TestDevice(hub.mqtt_port, unique_id, secret).connect)
    try:
        before = (await api.http.get("/api/v1/ingest/stats")).json()
        assert set(before["flagged"]) == {"undeclared_key", "wrong_type", "out_of_range"}
        await publish(device, {"humidity": 12})
        await publish(device, {"temp": 200})
        stats = await eventually(lambda: _flagged(api, before, "out_of_range"), what="the misfits flagged")
        assert stats["flagged"]["undeclared_key"] == before["flagged"]["undeclared_key"] + 1
        assert stats["rejected"]["out_of_range"] == before["rejected"]["out_of_range"]
    finally:
        await asyncio.to_thread(device.close)


async def _flagged(api: Api, before: dict[str, Any], reason: str) -> dict[str, Any] | None:
    stats: dict[str, Any] = (await api.http.get("/api/v1/ingest/stats")).json()
    return stats if stats["flagged"][reason] > before["flagged"][reason] else None

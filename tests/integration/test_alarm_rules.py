"""Alarm rules evaluated by a real hub on what real MQTT devices publish: durations, clearing, rates, no data,
gateway heartbeats, one alarm at a time, strict and lenient profiles, and a restart in between."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cloud.runtime import HubRuntime
from contracts.alarms import Alarm, AlarmState, RuleCreate
from contracts.profiles import ProfileCreate
from hub.store.alarms import AlarmQuery
from tests.helpers.hub import Api, running_hub
from tests.helpers.mqtt import TestDevice
from tests.helpers.process import start_replica
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(90)
TENANT = "default"


@pytest.fixture
async def device(hub: HubRuntime, api: Api, unique_id: str) -> AsyncIterator[TestDevice]:
    secret = (await api.create_device(unique_id))["credentials"]["password"]
    connected = await asyncio.to_thread(TestDevice(hub.mqtt_port, unique_id, secret).connect)
    yield connected
    await asyncio.to_thread(connected.close)


async def publish(device: TestDevice, values: dict[str, Any], **extra: Any) -> None:
    topic = f"devices/{device.client_id}/telemetry"
    await asyncio.to_thread(device.publish, topic, orjson.dumps({"values": values, **extra}))


async def rule(hub: HubRuntime, **fields: Any) -> str:
    body = RuleCreate.model_validate({"name": "rule", "selector": {}, **fields})
    return (await hub.services.rules.create(TENANT, body)).id


async def alarms(hub: HubRuntime, device: str, *states: AlarmState) -> list[Alarm]:
    found, _ = await hub.services.alarms.query(AlarmQuery(tenant=TENANT, device=device, states=states))
    return found


async def one_alarm(hub: HubRuntime, device: str, *states: AlarmState, within: float = 15) -> Alarm:
    async def found() -> list[Alarm]:
        return await alarms(hub, device, *states)

    listed = await eventually(found, within=within, what=f"an alarm of {device} in {states}")
    assert len(listed) == 1, listed
    return listed[0]


async def test_a_condition_raises_once_after_holding_for_its_duration_and_clears_past_the_hysteresis(
    hub: HubRuntime, device: TestDevice
) -> None:
    await rule(
        hub,
        key="temperature",
        kind="threshold",
        op=">",
        value=-10,
        for_s=2,
        hysteresis=1,
        message="{device} is at {value} °C ({threshold})",
    )
    await publish(device, {"temperature": -5.0})
    started = time.monotonic()
    for value in (-4.0, -3.0, -2.0):
        await publish(device, {"temperature": value})
    alarm = await one_alarm(hub, device.client_id, AlarmState.ACTIVE)
    assert time.monotonic() - started >= 1.5, "raised before the condition held for 2 s"
    for value in (-1.0, 0.0, 1.0):  # still above: the same alarm, no other
        await publish(device, {"temperature": value})
    assert alarm.message.startswith(f"{device.client_id} is at ") and "(> -10" in alarm.message
    await publish(device, {"temperature": -10.5})  # below the threshold but within the hysteresis: still open
    await publish(device, {"temperature": -12.0})
    cleared = await one_alarm(hub, device.client_id, AlarmState.CLEARED)
    assert cleared.id == alarm.id
    assert [change.state for change in cleared.history] == [AlarmState.ACTIVE, AlarmState.CLEARED]
    assert cleared.history[-1].value == -12.0
    assert await alarms(hub, device.client_id, AlarmState.ACTIVE) == []


async def test_a_reading_back_in_bounds_before_the_duration_raises_nothing(hub: HubRuntime, device: TestDevice) -> None:
    await rule(hub, key="temperature", kind="threshold", op=">", value=0, for_s=1)
    await publish(device, {"temperature": 5.0})
    await publish(device, {"temperature": -5.0})
    other = await rule(hub, key="marker", kind="threshold", op="==", value=True)
    await publish(device, {"marker": True})  # a rule without duration raises at once: evaluation has got here
    raised = await one_alarm(hub, device.client_id)
    assert raised.rule == other, "the interrupted condition raised an alarm"


async def test_range_rate_and_equality_rules(hub: HubRuntime, device: TestDevice) -> None:
    outside = await rule(hub, key="humidity", kind="range", low=20, high=80)
    rising = await rule(hub, key="level", kind="rate", op=">", value=5)  # more than 5 units per second
    door = await rule(hub, key="door", kind="threshold", op="==", value="open", severity="critical")
    now = int(time.time() * 1000)
    await publish(device, {"humidity": 50.0, "level": 10.0, "door": "closed"}, ts=now - 2000)
    await publish(device, {"humidity": 85.0, "level": 11.0}, ts=now - 1000)  # level +1/s: not a rate alarm
    await publish(device, {"level": 30.0, "door": "open"}, ts=now)  # +19/s
    raised = {a.rule: a for a in await eventually(lambda: _n_alarms(hub, device.client_id, 3), what="3 alarms")}
    assert raised[outside].value == 85.0 and raised[rising].value == pytest.approx(19.0)
    assert raised[door].severity == "critical" and raised[door].value == "open"


async def _n_alarms(hub: HubRuntime, device: str, n: int) -> list[Alarm] | None:
    found = await alarms(hub, device)
    return found if len(found) >= n else None


async def test_a_silent_device_raises_a_no_data_alarm_that_its_next_reading_clears(
    hub: HubRuntime, device: TestDevice
) -> None:
    await rule(hub, kind="no_data", silence_s=1, message="{device} silent for {silent_s} s")
    await publish(device, {"temperature": 1.0})
    alarm = await one_alarm(hub, device.client_id, AlarmState.ACTIVE, within=20)
    assert alarm.message.startswith(f"{device.client_id} silent for ")
    await publish(device, {"temperature": 2.0})
    cleared = await one_alarm(hub, device.client_id, AlarmState.CLEARED)
    assert cleared.id == alarm.id


async def test_a_gateway_whose_spool_fills_raises_on_its_heartbeat(hub: HubRuntime, api: Api, unique_id: str) -> None:
    secret = (await api.create_device(unique_id, kind="gateway", labels={"site": "north"}))["credentials"]["password"]
    await hub.services.rules.create(
        TENANT,
        RuleCreate(
            name="spool",
            selector={"site": "north"},
            source="heartbeat",
            key="spool.depth",  # type: ignore[arg-type]
            kind="threshold",
            op=">",
            value=1000,
        ),  # type: ignore[arg-type]
    )
    gateway = await asyncio.to_thread(TestDevice(hub.mqtt_port, unique_id, secret).connect)
    try:
        for depth in (10, 5000):
            beat = {
                "ts": 1,
                "agent_version": "1",
                "uptime_s": 1,
                "spool": {"depth": depth, "dropped": 0, "bytes_used": 1},
            }
            await asyncio.to_thread(gateway.publish, f"devices/{unique_id}/heartbeat", orjson.dumps(beat))
        alarm = await one_alarm(hub, unique_id, AlarmState.ACTIVE)
        assert alarm.key == "spool.depth" and alarm.value == 5000
    finally:
        await asyncio.to_thread(gateway.close)


async def test_strict_profiles_refuse_what_they_do_not_declare_and_lenient_ones_flag_it(
    hub: HubRuntime, api: Api, unique_id: str
) -> None:
    keys = {"temperature": {"type": "number", "unit": "°C", "min": -60, "max": 60}, "door": {"type": "boolean"}}
    await hub.services.profiles.create(
        TENANT, ProfileCreate.model_validate({"id": "freezer", "name": "Freezer", "keys": keys, "strict": True})
    )
    await hub.services.profiles.create(
        TENANT, ProfileCreate.model_validate({"id": "loose", "name": "Loose", "keys": keys})
    )
    strict_secret = (await api.create_device(unique_id, profile="freezer"))["credentials"]["password"]
    loose_secret = (await api.create_device(f"{unique_id}-l", profile="loose"))["credentials"]["password"]
    metrics = hub.services.metrics.registry
    strict = await asyncio.to_thread(TestDevice(hub.mqtt_port, unique_id, strict_secret).connect)
    loose = await asyncio.to_thread(TestDevice(hub.mqtt_port, f"{unique_id}-l", loose_secret).connect)
    try:
        for bad, reason in (
            ({"humidity": 3}, "undeclared_key"),
            ({"door": 1}, "wrong_type"),
            ({"temperature": 99}, "out_of_range"),
        ):
            before = metrics.get_sample_value("fieldhub_ingest_rejected_total", {"reason": reason}) or 0
            await publish(strict, bad)
            await publish(loose, bad)

            async def counted(reason: str = reason, before: float = before) -> bool:
                refused = metrics.get_sample_value("fieldhub_ingest_rejected_total", {"reason": reason}) or 0
                flagged = metrics.get_sample_value("fieldhub_ingest_flagged_total", {"reason": reason}) or 0
                return refused == before + 1 and flagged >= 1

            await eventually(counted, what=f"{reason} refused and flagged")
        await publish(strict, {"temperature": -18.5, "door": False})
        latest = await eventually(lambda: hub.services.store.telemetry.latest(unique_id), what="a stored reading")
        assert set(latest) == {"temperature", "door"}, "a refused reading was stored"
        loose_latest = await eventually(
            lambda: _keys(hub, f"{unique_id}-l", 3), what="the loose device's flagged readings stored"
        )
        assert loose_latest == {"humidity", "door", "temperature"}
    finally:
        for client in (strict, loose):
            await asyncio.to_thread(client.close)


async def _keys(hub: HubRuntime, device: str, n: int) -> set[str] | None:
    latest = await hub.services.store.telemetry.latest(device)
    return set(latest) if len(latest) >= n else None


async def test_pending_conditions_and_active_alarms_survive_a_restart(tmp_path: Path, unique_id: str) -> None:
    data = tmp_path / "data"
    async with running_hub(data) as hub:
        api = await Api.login(hub.url)
        secret = (await api.create_device(unique_id))["credentials"]["password"]
        await api.close()
        await rule(hub, key="t", kind="threshold", op=">", value=0, for_s=3)
        await rule(hub, key="u", kind="threshold", op=">", value=0)
        device = await asyncio.to_thread(TestDevice(hub.mqtt_port, unique_id, secret).connect)
        await publish(device, {"t": 1.0, "u": 1.0})
        active = await one_alarm(hub, unique_id, AlarmState.ACTIVE)
        pending = await eventually(hub.services.store.alarms.pending, what="the pending condition stored")
        assert [p.device for p in pending] == [unique_id]
        await asyncio.to_thread(device.close)
    async with running_hub(data) as hub:
        # The pending condition goes on from before the restart: no new reading is needed for it to raise.
        found = await eventually(lambda: _n_alarms(hub, unique_id, 2), within=15, what="the pending alarm raised")
        assert active.id in {a.id for a in found}
        assert all(a.state is AlarmState.ACTIVE for a in found)


async def test_cleared_alarms_go_after_their_retention_and_open_ones_stay(tmp_path: Path, unique_id: str) -> None:
    alarms_settings = {"retention_days": 1 / 86400, "retention_interval_s": 1}  # one second
    async with running_hub(tmp_path / "data", alarms=alarms_settings) as hub:
        api = await Api.login(hub.url)
        secret = (await api.create_device(unique_id))["credentials"]["password"]
        await api.close()
        await rule(hub, key="a", kind="threshold", op=">", value=0)
        await rule(hub, key="b", kind="threshold", op=">", value=0)
        device = await asyncio.to_thread(TestDevice(hub.mqtt_port, unique_id, secret).connect)
        try:
            await publish(device, {"a": 1.0, "b": 1.0})
            await eventually(lambda: _n_alarms(hub, unique_id, 2), what="two alarms")
            await publish(device, {"a": -1.0})
            cleared = await one_alarm(hub, unique_id, AlarmState.CLEARED)

            async def gone() -> bool:
                return not await alarms(hub, unique_id, AlarmState.CLEARED)

            await eventually(gone, within=15, what="the cleared alarm removed")
            kept = await alarms(hub, unique_id)
            assert [a.key for a in kept] == ["b"] and kept[0].id != cleared.id
        finally:
            await asyncio.to_thread(device.close)


async def test_an_ingest_replica_evaluates_what_it_stores_and_two_processes_raise_once(
    tmp_path: Path, unique_id: str
) -> None:
    data = tmp_path / "data"
    async with running_hub(data, broker="mosquitto") as hub:
        api = await Api.login(hub.url)
        secret = (await api.create_device(unique_id))["credentials"]["password"]
        await api.close()
        keys = [f"k{i}" for i in range(20)]
        for key in keys:
            await rule(hub, key=key, kind="threshold", op=">", value=0)
        replica = await asyncio.to_thread(start_replica, data, hub.mqtt_port, "alarms", "--probe-port", "0")
        try:
            url = replica.wait_for_line("Health and metrics: ").split()[3].removesuffix("/healthz")
            device = await asyncio.to_thread(TestDevice(hub.mqtt_port, unique_id, secret).connect)
            try:
                # Each key twice: the shared subscription spreads the messages over the hub and the replica.
                for key in keys + keys:
                    await publish(device, {key: 1.0})
            finally:
                await asyncio.to_thread(device.close)
            found = await eventually(lambda: _n_alarms(hub, unique_id, 20), within=20, what="an alarm per key")
            assert sorted(a.key or "" for a in found) == sorted(keys), "a rule raised twice on the device"
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                text = (await http.get("/metrics")).text
            raised = [
                line
                for line in text.splitlines()
                if line.startswith('fieldhub_alarm_transitions_total{state="active"}')
            ]
            assert raised and float(raised[0].split()[1]) >= 1, "the replica raised none of the alarms"
        finally:
            await asyncio.to_thread(replica.stop)


async def test_readings_posted_over_http_are_evaluated_like_mqtt_ones(
    hub: HubRuntime, api: Api, unique_id: str
) -> None:
    secret = (await api.create_device(unique_id))["credentials"]["password"]
    await rule(hub, key="pressure", kind="range", low=1, high=5)
    async with httpx.AsyncClient(base_url=hub.url, timeout=10) as device:
        posted = await device.post(
            "/api/v1/ingest/telemetry", json={"values": {"pressure": 7.5}}, auth=(unique_id, secret)
        )
        assert posted.status_code == 202, posted.text
    alarm = await one_alarm(hub, unique_id, AlarmState.ACTIVE)
    assert alarm.key == "pressure" and alarm.value == 7.5

"""Scheduled deployments on a real hub: a window starts and ends on time, also across a restart; a cron runs twice.

A gateway faking its heartbeats over MQTT stands in for the node; what it receives on its deployments topic is
what a real agent would run.
"""

from __future__ import annotations

import asyncio
import queue
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cloud.runtime import HubRuntime
from contracts.apps import NodeDeployments
from tests.helpers.hub import Api, running_hub
from tests.helpers.mqtt import TestDevice
from tests.helpers.waiting import eventually
from tests.integration.test_deployments_api import DEPLOYMENTS, beat, beating, gateway, push_bound_app, report

pytestmark = [pytest.mark.timeout(90), pytest.mark.slow]

#: How late a start or end may be seen by the node (the hub acts at the due time; MQTT and threads add a little).
ON_TIME_MS = 1_500
NODE = "gw-greenhouse-b"


def rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Desired:
    """The desired sets a node receives, each with the time it arrived (epoch ms)."""

    def __init__(self, device: TestDevice) -> None:
        self.device = device

    async def next(self, check: Any, within: float = 15.0) -> tuple[NodeDeployments, int]:
        """The first set for which ``check`` holds, and when it arrived."""

        def receive() -> tuple[NodeDeployments, int]:
            deadline = time.monotonic() + within
            while True:
                try:
                    message = self.device.next_message(timeout=max(0.01, deadline - time.monotonic()))
                except queue.Empty:
                    raise AssertionError(f"no desired set as wanted within {within}s") from None
                found = NodeDeployments.model_validate_json(message.payload)
                if check(found):
                    return found, now_ms()

        return await asyncio.to_thread(receive)


def names(deployment: str) -> Any:
    return lambda found: [i.deployment for i in found.instances] == [deployment]


def lacks(deployment: str) -> Any:
    return lambda found: deployment not in [i.deployment for i in found.instances]


async def watch(device: TestDevice) -> Desired:
    assert (await asyncio.to_thread(device.subscribe, f"devices/{NODE}/deployments"))[0].value == 1
    return Desired(device)


async def shown(api: Api, ident: str) -> dict[str, Any]:
    found: dict[str, Any] = (await api.http.get(f"{DEPLOYMENTS}/{ident}")).json()
    return found


async def status_of(api: Api, ident: str, wanted: str) -> dict[str, Any] | None:
    found = await shown(api, ident)
    return found if found["status"] == wanted else None


async def test_a_window_starts_and_ends_on_time(hub: HubRuntime, api: Api, tmp_path: Path) -> None:
    node = await gateway(hub, api, NODE, "temperature", "greenhouse-b")
    try:
        desired = await watch(node)
        await push_bound_app(api, tmp_path, "climate", "temperature", "greenhouse-b")
        start = (now_ms() // 1000 + 3) * 1000
        end = start + 3000
        schedule = {"kind": "window", "start": rfc3339(start), "end": rfc3339(end)}
        response = await api.http.post(DEPLOYMENTS, json={"app": "climate", "schedule": schedule})
        assert response.status_code == 201, response.text
        created = response.json()
        ident = created["id"]
        assert (created["status"], created["next_start"], created["instances"]) == ("scheduled", start, [])
        assert created["schedule"] == {"kind": "window", "start": rfc3339(start), "end": rfc3339(end)}
        assert created["placement"] is None
        assert created["timeline"][0]["reason"].startswith("scheduled: window ")
        assert [d["status"] for d in (await api.http.get(DEPLOYMENTS)).json()["items"]] == ["scheduled"]

        # The node is told of the instance at the start, not before ...
        placed, arrived = await desired.next(names(ident))
        assert start <= arrived < start + ON_TIME_MS, f"started {arrived - start} ms after its start"
        [instance] = placed.instances
        assert (instance.app, instance.sensors) == ("climate", {"probe": ["probe"]})
        running = await shown(api, ident)
        assert running["status"] == "deploying" and running["next_start"] is None
        assert [i["node"] for i in running["instances"]] == [NODE]
        assert running["placement"]["candidates"][0]["accepted"]
        # ... runs as any deployment does when its node reports ...
        await asyncio.to_thread(node.publish, f"devices/{NODE}/apps", report(ident, "running"))
        await eventually(lambda: status_of(api, ident, "running"), what="the scheduled deployment running")

        # ... and no longer after the end.
        _, arrived = await desired.next(lacks(ident))
        assert end <= arrived < end + ON_TIME_MS, f"ended {arrived - end} ms after its end"
        done = await eventually(lambda: status_of(api, ident, "completed"), what="the window completed")
        assert (done["instances"], done["next_start"]) == ([], None)
        timeline = done["timeline"]
        assert [t["status"] for t in timeline] == ["scheduled", "deploying", "running", "completed"]
        assert timeline[1]["reason"].startswith("schedule: window ") and " began; " in timeline[1]["reason"]
        assert timeline[3]["reason"].startswith("schedule: window ") and timeline[3]["reason"].endswith("ended")
        assert start <= timeline[1]["ts"] < start + ON_TIME_MS and end <= timeline[3]["ts"] < end + ON_TIME_MS
    finally:
        await asyncio.to_thread(node.close)


async def test_a_window_across_a_hub_restart_runs_if_still_open_else_is_recorded_missed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    secrets: dict[str, str] = {}
    async with running_hub(data) as hub:
        api = await Api.login(hub.url)
        node = await gateway(hub, api, NODE, "temperature", "greenhouse-b", secrets)
        await asyncio.to_thread(node.close)
        await push_bound_app(api, tmp_path, "climate", "temperature", "greenhouse-b")
        start = (now_ms() // 1000 + 4) * 1000  # time enough to stop the hub before it
        long_window = {"kind": "window", "start": rfc3339(start), "end": rfc3339(start + 9000)}
        short_window = {"kind": "window", "start": rfc3339(start), "end": rfc3339(start + 1000)}
        still_open = (await api.http.post(DEPLOYMENTS, json={"app": "climate", "schedule": long_window})).json()
        over = (await api.http.post(DEPLOYMENTS, json={"app": "climate", "schedule": short_window})).json()
        assert still_open["status"] == over["status"] == "scheduled"
        await api.close()
    # No hub runs at the start; the short window ends meanwhile.
    await eventually(lambda: _past(start + 2500), within=10, what="the short window to end")
    async with running_hub(data) as hub:
        api = await Api.login(hub.url)
        try:
            missed = await eventually(lambda: status_of(api, over["id"], "completed"), what="the missed window")
            assert [t["status"] for t in missed["timeline"]] == ["scheduled", "completed"]
            assert missed["timeline"][-1]["reason"].startswith("missed: the window ")
            # The open one starts at once, late; its node is offline since the restart, so it waits for it.
            late = await eventually(lambda: status_of(api, still_open["id"], "pending"), what="the late start")
            assert " s late " in late["timeline"][1]["reason"]
            node = await asyncio.to_thread(TestDevice(hub.mqtt_port, NODE, secrets[NODE]).connect)
            try:
                desired = await watch(node)
                await asyncio.to_thread(node.publish, f"devices/{NODE}/heartbeat", beat("temperature", "greenhouse-b"))
                await desired.next(names(still_open["id"]))
                placed = await shown(api, still_open["id"])
                assert placed["status"] == "deploying"
                _, arrived = await desired.next(lacks(still_open["id"]))
                assert arrived >= start + 9000
                done = await eventually(lambda: status_of(api, still_open["id"], "completed"), what="the end")
                assert [t["status"] for t in done["timeline"]] == ["scheduled", "pending", "deploying", "completed"]
            finally:
                await asyncio.to_thread(node.close)
        finally:
            await api.close()


async def test_a_cron_schedule_runs_twice(hub: HubRuntime, api: Api, tmp_path: Path) -> None:
    node = await gateway(hub, api, NODE, "temperature", "greenhouse-b")
    try:
        async with beating(node, "temperature", "greenhouse-b"):  # runs come later than 7 s
            desired = await watch(node)
            await push_bound_app(api, tmp_path, "climate", "temperature", "greenhouse-b")
            schedule = {"kind": "cron", "cron": "*/4 * * * * *", "duration_s": 2}
            response = await api.http.post(DEPLOYMENTS, json={"app": "climate", "schedule": schedule})
            assert response.status_code == 201, response.text
            created = response.json()
            ident, first = created["id"], created["next_start"]
            assert created["status"] == "scheduled" and first % 4000 == 0 and first > created["created"]
            assert created["schedule"] == {**schedule, "timezone": "UTC"}
            starts, ends = [], []
            for _ in range(2):
                _, arrived = await desired.next(names(ident))
                starts.append(arrived)
                _, arrived = await desired.next(lacks(ident))
                ends.append(arrived)
            runs = [first, first + 4000]  # the times the expression names, each run lasting 2 s
            assert all(run <= start < run + ON_TIME_MS for run, start in zip(runs, starts, strict=True)), starts
            assert all(run + 2000 <= end < run + 2000 + ON_TIME_MS for run, end in zip(runs, ends, strict=True)), ends
            again = await eventually(lambda: status_of(api, ident, "scheduled"), what="the cron scheduled again")
            statuses = [t["status"] for t in again["timeline"]]
            assert statuses[:5] == ["scheduled", "deploying", "scheduled", "deploying", "scheduled"]
            assert again["next_start"] >= first + 8000 and again["instances"] == []
            assert "; next start " in again["timeline"][2]["reason"]
            # Deleting it wakes the scheduler, which finds nothing more to do.
            assert (await api.http.delete(f"{DEPLOYMENTS}/{ident}")).status_code == 204
    finally:
        await asyncio.to_thread(node.close)


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ({"kind": "window", "start": "2031-01-01T10:00:00Z", "end": "2031-01-01T09:00:00Z"}, "end must be after"),
        ({"kind": "at", "start": "2020-01-01T00:00:00Z"}, "schedule.start: start 2020-01-01T00:00:00Z is in the past"),
        ({"kind": "cron", "cron": "*/5 25 * * *", "duration_s": 60}, "schedule.cron: bad cron expression"),
        ({"kind": "cron", "cron": "0 8 * * *", "duration_s": 60, "timezone": "Europe/Atlantis"}, "unknown time zone"),
        ({"kind": "at", "start": "2031-01-01T10:00:00"}, "timezone"),
    ],
)
async def test_an_invalid_schedule_is_a_422_naming_the_problem(
    api: Api, tmp_path: Path, schedule: dict[str, Any], problem: str
) -> None:
    await push_bound_app(api, tmp_path, "climate", "temperature", "greenhouse-b")
    refused = await api.http.post(DEPLOYMENTS, json={"app": "climate", "schedule": schedule})
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invalid_request" and problem in error["message"], error
    assert (await api.http.get(DEPLOYMENTS)).json()["items"] == []


async def _past(ms: int) -> bool:
    return now_ms() > ms

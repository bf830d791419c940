"""``fieldhub events`` and ``fieldhub webhook`` as users run them: real CLI processes against a real hub."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cloud.runtime import HubRuntime
from tests.helpers.hub import Api
from tests.helpers.process import cli_env, fieldhub
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(90)


def _env(hub: HubRuntime, tmp_path: Path) -> dict[str, str]:
    return cli_env(XDG_CONFIG_HOME=str(tmp_path / "config"), FIELDHUB_HUB=hub.url)


async def test_events_are_listed_and_followed(hub: HubRuntime, api: Api, tmp_path: Path) -> None:
    env = _env(hub, tmp_path)
    hub.services.events.record("node.dead", "default", message="gw1 is dead", node="gw1")
    await eventually(lambda: _listed(api), what="the event stored")
    listed = await asyncio.to_thread(fieldhub, "events", "--kind", "node.", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "node.dead" in listed.stdout and "gw1 is dead" in listed.stdout

    follower = subprocess.Popen(  # noqa: ASYNC220 - a child process whose output the test reads in a thread
        [sys.executable, "-m", "cloud.cli.main", "events", "-f", "-o", "json", "--node", "gw1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert follower.stdout is not None and follower.stderr is not None
        # The newest event prints first, then the follower says it is following.
        assert json.loads(await asyncio.to_thread(follower.stdout.readline))["message"] == "gw1 is dead"
        assert "Following events" in await asyncio.to_thread(follower.stderr.readline)
        hub.services.events.record("node.back", "default", message="gw1 is back", node="gw1")
        followed = json.loads(await asyncio.wait_for(asyncio.to_thread(follower.stdout.readline), 20))
        assert (followed["kind"], followed["message"]) == ("node.back", "gw1 is back")
    finally:
        follower.terminate()
        await asyncio.to_thread(follower.wait, 10)
        for stream in (follower.stdout, follower.stderr):
            if stream is not None:
                stream.close()


async def _listed(api: Api) -> bool:
    return bool((await api.http.get("/api/v1/events")).json()["items"])


async def test_webhooks_are_added_listed_and_removed(hub: HubRuntime, tmp_path: Path) -> None:
    env = _env(hub, tmp_path)
    added = await asyncio.to_thread(
        fieldhub, "webhook", "add", "http://127.0.0.1:9/hook", "--kind", "node.", "-o", "json", env=env
    )
    assert added.returncode == 0, added.stderr
    created = json.loads(added.stdout)
    assert created["secret"].startswith("whsec_") and created["kinds"] == ["node."]
    table = await asyncio.to_thread(fieldhub, "webhook", "add", "http://127.0.0.1:9/other", env=env)
    assert "shown once" in table.stdout and "whsec_" in table.stdout

    shown = await asyncio.to_thread(fieldhub, "webhook", "ls", env=env)
    assert shown.returncode == 0 and created["id"] in shown.stdout and "whsec_" not in shown.stdout
    removed = await asyncio.to_thread(fieldhub, "webhook", "rm", created["id"], env=env)
    assert removed.returncode == 0, removed.stderr
    again = await asyncio.to_thread(fieldhub, "webhook", "rm", created["id"], env=env)
    assert again.returncode != 0 and "not found" in again.stderr

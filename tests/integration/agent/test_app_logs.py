"""An app's output lines reach the hub's log store through the node's spool, also those written while the hub was
away, and are found by text search (real agent, real app process, in-process hub as in test_app_host.py)."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from contracts.apps import MANIFEST
from tests.helpers.agent import running_agent
from tests.helpers.hub import Api, running_hub
from tests.helpers.ports import free_port
from tests.helpers.waiting import eventually
from tests.integration.agent.test_app_host import NODE, _text, agent_config, deployed, push, settled

pytestmark = pytest.mark.timeout(120)

TICKER_MANIFEST = """\
[app]
name = "ticker"
version = "1.0.0"

[[services]]
name = "main"
runtime = { command = ["python", "main.py"] }
default = true
"""
#: A line every 50 ms, an error line on stderr every tenth, and the latest count in a file the test reads. The
#: count is replaced, not rewritten in place: a read between truncating and writing would see no count at all.
TICKER = """\
import os
import sys
import time
from pathlib import Path

count = Path(os.environ["FIELDHUB_DATA_DIR"]) / "count"
partial = count.with_name("count.partial")
n = 0
while True:
    n += 1
    print(f"tick {n} marker{n}", flush=True)
    if n % 10 == 0:
        print(f"tick {n} went wrong", file=sys.stderr, flush=True)
    partial.write_text(str(n))
    partial.replace(count)
    time.sleep(0.05)
"""


async def test_lines_an_app_writes_while_the_hub_is_away_all_arrive_and_are_found(
    tmp_path: Path, pins: MockFactory
) -> None:
    data, port = tmp_path / "hub", free_port()
    async with AsyncExitStack() as stack:
        hub = await stack.enter_async_context(running_hub(data, mqtt_port=port))
        api = await Api.login(hub.url)
        secret = str((await api.create_device(NODE, kind="gateway"))["credentials"]["password"])
        await push(api, tmp_path, {MANIFEST: TICKER_MANIFEST, "main.py": TICKER})
        agent_stack = AsyncExitStack()
        await agent_stack.enter_async_context(running_agent(agent_config(tmp_path, hub, secret)))
        try:
            deployment = await deployed(api, "ticker")
            assert (await settled(api, deployment))["status"] == "running"
            path = f"/api/v1/deployments/{deployment}/logs"
            count_file = tmp_path / "apps" / "data" / f"{deployment}-0" / "count"

            async def first_lines() -> list[dict[str, Any]] | None:
                return (await api.http.get(path, params={"q": "tick"})).json()["items"] or None

            [*_, line] = await eventually(first_lines, what="the app's first lines at the hub")
            assert (line["app"], line["version"], line["node"], line["service"]) == ("ticker", "1.0.0", NODE, "main")
            await api.close()
            await stack.aclose()  # the hub goes away; the node and its app stay

            async def written() -> int | None:
                text = await _text(count_file)
                return int(text) if text else None

            # The agent stamps a line when it reads it, so a line printed after `cut_off` is stamped after it. The app
            # prints a tick, then counts it: tick `counted + 1` may be out already, `counted + 2` follows our read.
            cut_off = int(time.time() * 1000)
            counted = await written()
            assert counted is not None
            first = counted + 2

            async def ticks_while_away() -> int | None:
                latest = await written()
                return latest if latest is not None and latest >= first + 39 else None

            last = await eventually(ticks_while_away, what="the app writing 40 lines while the hub is away")
            async with running_hub(data, mqtt_port=port) as hub_again:
                api = await Api.login(hub_again.url)
                since: dict[str, str | int] = {"start": cut_off, "order": "asc", "limit": 1000}

                async def outage_lines() -> list[int] | None:
                    items = (await api.http.get(path, params={"q": "marker*", **since})).json()["items"]
                    ticks = [tick for item in items if first <= (tick := int(item["message"].split()[1])) <= last]
                    return ticks if set(ticks) >= set(range(first, last + 1)) else None

                # A lost line keeps this waiting until it fails; the agent reconnects within its 0.5 s backoff cap.
                ticks = await eventually(outage_lines, within=30, what=f"the outage's lines {first}..{last} stored")
                # Every line of the outage once, in the order written.
                assert ticks == list(range(first, last + 1)), ticks
                one = ticks[len(ticks) // 2]
                [found] = (await api.http.get(path, params={"q": f"marker{one}"})).json()["items"]
                assert found["message"] == f"tick {one} marker{one}" and found["stream"] == "stdout"
                errors = (await api.http.get(path, params={"level": "ERROR", "q": "wrong", **since})).json()["items"]
                assert errors and all(item["stream"] == "stderr" for item in errors)
                assert {int(item["message"].split()[1]) % 10 for item in errors} == {0}
                await api.close()
        finally:
            await agent_stack.aclose()

"""An edge agent running in the test's event loop, against whatever hub its config names."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from edge_agent.agent import Agent
from edge_agent.config import load_config, parse_config

STOP_TIMEOUT = 30.0


@asynccontextmanager
async def running_agent(config: dict[str, Any] | Path) -> AsyncIterator[Agent]:
    """An agent run from a raw config, or from the config file at a path (then ``reload_config`` works).

    Leaving the block stops it and waits for it to finish.
    """
    if isinstance(config, Path):
        agent = Agent(load_config(config), config)
    else:
        agent = Agent(parse_config(config, "test config"))
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        yield agent
    finally:
        stop.set()
        await asyncio.wait_for(task, STOP_TIMEOUT)

"""The agent's own log lines: buffered, rate-limited, spooled like readings."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import orjson
import pytest

from edge_agent.logship import LogShipper
from edge_agent.spool import LOGS, Spool

pytestmark = pytest.mark.timeout(30)


async def test_lines_reach_the_spool_and_bursts_are_limited(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", max_bytes=1 << 30)
    woken = asyncio.Event()
    shipper = LogShipper(spool, max_per_minute=5, wake=woken.set, level=logging.INFO)
    logger = logging.getLogger("fieldhub.test.logship")
    logger.propagate = False
    logger.addHandler(shipper)
    try:
        logger.debug("below the level")
        for i in range(8):
            logger.warning("line %d", i)
        task = asyncio.create_task(shipper.run())
        await asyncio.wait_for(woken.wait(), 10)
        task.cancel()
    finally:
        logger.removeHandler(shipper)
    rows = spool.batch(0, 100, 1 << 20)
    assert {row.kind for row in rows} == {LOGS}
    lines = [orjson.loads(row.body) for row in rows]
    assert [line["message"] for line in lines] == [f"line {i}" for i in range(5)]
    assert lines[0]["level"] == "WARNING" and lines[0]["logger"] == "fieldhub.test.logship"
    assert shipper.dropped == 3
    spool.close()

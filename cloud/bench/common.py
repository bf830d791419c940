"""What every ingest benchmark variant shares: its hub's settings, latency probes, waiting for counts."""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, closing, contextmanager
from pathlib import Path
from typing import Any, Self

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from cloud.runtime import HubRuntime
from cloud.settings import HubSettings, load_settings
from hub.clock import now_ms
from hub.ingest.pipeline import IngestPipeline
from hub.security.passwords import new_secret
from hub.store.telemetry import Message

STALL_S = 15.0
#: Messages sent in a run's first second are its warm-up (connections, first lookups), reported apart.
WARMUP_MS = 1000


class CountingSubscriber:
    """A plain paho subscriber that counts what it receives: the baseline's receiving end."""

    def __init__(self, port: int, qos: int, username: str | None = None, password: str | None = None) -> None:
        self.received = 0
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-sub")
        if username is not None:
            client.username_pw_set(username, password)
        client.on_message = self._count
        client.on_subscribe = lambda *_: self._subscribed.set()
        client.on_connect = lambda c, *_: c.subscribe("devices/+/telemetry", qos=qos)
        self._client = client
        self._port = port

    def _count(self, *_: object) -> None:
        with self._lock:
            self.received += 1

    async def __aenter__(self) -> Self:
        self._client.connect("127.0.0.1", self._port)
        self._client.loop_start()
        if not await asyncio.to_thread(self._subscribed.wait, 10):
            raise RuntimeError("the baseline subscriber was not granted its subscription")
        return self

    async def __aexit__(self, *_: object) -> None:
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)


def bench_settings(
    data_dir: Path, args: argparse.Namespace, *, stream: list[str] | None = None, **extra: Any
) -> HubSettings:
    """A throwaway hub on free ports (cheap password hashing: the bench registers devices, it does not test it)."""
    return load_settings(
        data_dir=data_dir,
        mqtt_port=0,
        http_port=0,
        demo=True,
        scrypt_n=1024,
        admin_password=new_secret(),
        stream=args.stream if stream is None else stream,
        **extra,
    )


@contextmanager
def stored_points(database: Path) -> Iterator[Callable[[], int]]:
    """How many points a hub's SQLite ``database`` holds now, whichever process wrote them, read by a connection of
    its own."""
    with closing(sqlite3.connect(database, check_same_thread=False)) as db:
        # The whole table is summed, since merges of small chunks replace rows. Summing the chunk rows
        # themselves read every stored chunk every 50 ms, a core's worth of memory traffic by the end of a
        # run; this throwaway database gets an index of chunk sizes to sum instead (the hub pays one index
        # entry per chunk, inside the figures).
        db.execute("CREATE INDEX IF NOT EXISTS bench_chunk_sizes ON chunks(n)")

        def count() -> int:
            (n,) = db.execute("SELECT coalesce(sum(n), 0) FROM chunks").fetchone()
            return int(n)

        yield count


@contextmanager
def latencies(pipeline: IngestPipeline) -> Iterator[list[tuple[int, int]]]:
    """Collect (sent, device-to-stored latency) in ms, from each message's first reading, while inside."""
    collected: list[tuple[int, int]] = []

    def measure(batch: Sequence[Message]) -> None:
        stored_at = now_ms()
        collected.extend((sent, stored_at - sent) for sent in (item.readings[0].ts for item in batch))

    pipeline.add_observer(measure)
    try:
        yield collected
    finally:
        pipeline.remove_observer(measure)


def _p50_p99(values: list[int]) -> tuple[float | None, float | None]:
    if not values:
        return None, None  # JSON has no NaN: a run too short to have a steady state says null
    ordered = sorted(values)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.99) - 1)]


def percentiles(measured: list[tuple[int, int]]) -> dict[str, float | None]:
    """p50 and p99 in ms of every message, and of the steady state after the first second's warm-up."""
    p50, p99 = _p50_p99([latency for _, latency in measured])
    first = min((sent for sent, _ in measured), default=0)
    steady = [latency for sent, latency in measured if sent >= first + WARMUP_MS]
    steady_p50, steady_p99 = _p50_p99(steady)
    return {"p50_ms": p50, "p99_ms": p99, "steady_p50_ms": steady_p50, "steady_p99_ms": steady_p99}


async def wait_for(count: Callable[[], int], total: int, *, poll_s: float = 0.005, stall_s: float = STALL_S) -> float:
    """Wait until ``count()`` reaches ``total`` or stops moving for ``stall_s``; return the time it last moved (to
    ``poll_s``)."""
    last_value, last_change = -1, time.perf_counter()
    while True:
        value = count()
        now = time.perf_counter()
        if value != last_value:
            last_value, last_change = value, now
        if value >= total or now - last_change > stall_s:
            return last_change
        await asyncio.sleep(poll_s)  # polling a counter, bounded by the stall timeout


@asynccontextmanager
async def hub_with_admin(data_dir: Path) -> AsyncIterator[tuple[HubRuntime, httpx.AsyncClient]]:
    """A hub in this process on free ports, and an API client signed in as its admin."""
    password = new_secret()
    settings = load_settings(
        data_dir=data_dir, mqtt_port=0, http_port=0, demo=True, scrypt_n=1024, admin_password=password
    )
    async with HubRuntime(settings) as hub, httpx.AsyncClient(base_url=hub.url, timeout=60) as http:
        token = await http.post("/api/v1/auth/token", data={"username": "admin", "password": password})
        token.raise_for_status()
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield hub, http


def connected_publisher(port: int, device: str, password: str) -> mqtt.Client:
    """A paho client connected to the hub on this host as ``device``, its network loop running."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device)
    client.username_pw_set(device, password)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client

"""What every ingest benchmark variant shares: its hub's settings, latency probes, waiting for counts."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cloud.settings import HubSettings, load_settings
from hub.ingest.accepted import Accepted
from hub.ingest.pipeline import IngestPipeline, now_ms
from hub.security.passwords import new_secret

STALL_S = 15.0
#: Messages sent in a run's first second are its warm-up (connections, first lookups), reported apart.
WARMUP_MS = 1000


def bench_settings(data_dir: Path, args: argparse.Namespace, **extra: Any) -> HubSettings:
    """A throwaway hub on free ports (cheap password hashing: the bench registers devices, it does not test it)."""
    return load_settings(
        data_dir=data_dir,
        mqtt_port=0,
        http_port=0,
        demo=True,
        scrypt_n=1024,
        admin_password=new_secret(),
        stream=args.stream,
        **extra,
    )


@contextmanager
def latencies(pipeline: IngestPipeline) -> Iterator[list[tuple[int, int]]]:
    """Collect (sent, device-to-stored latency) in ms, from each message's first reading, while inside."""
    collected: list[tuple[int, int]] = []

    def measure(batch: list[Accepted]) -> None:
        stored_at = now_ms()
        collected.extend((sent, stored_at - sent) for sent in (item.readings[0].ts for item in batch))

    pipeline.add_listener(measure)
    try:
        yield collected
    finally:
        pipeline.remove_listener(measure)


def _p50_p99(values: list[int]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    ordered = sorted(values)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.99) - 1)]


def percentiles(measured: list[tuple[int, int]]) -> dict[str, float]:
    """p50 and p99 in ms of every message, and of the steady state after the first second's warm-up."""
    p50, p99 = _p50_p99([latency for _, latency in measured])
    first = min((sent for sent, _ in measured), default=0)
    steady = [latency for sent, latency in measured if sent >= first + WARMUP_MS]
    steady_p50, steady_p99 = _p50_p99(steady)
    return {"p50_ms": p50, "p99_ms": p99, "steady_p50_ms": steady_p50, "steady_p99_ms": steady_p99}


async def wait_for(count: Callable[[], int], total: int, *, poll_s: float = 0.005) -> float:
    """Wait until ``count()`` reaches ``total`` or stops moving; return the time it last moved (to ``poll_s``)."""
    last_value, last_change = -1, time.perf_counter()
    while True:
        value = count()
        now = time.perf_counter()
        if value != last_value:
            last_value, last_change = value, now
        if value >= total or now - last_change > STALL_S:
            return last_change
        await asyncio.sleep(poll_s)  # polling a counter, bounded by the stall timeout

"""Load generator: publisher processes (paho), so the generator is not the bottleneck of one core."""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Event

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


@dataclass(frozen=True, slots=True)
class PublisherSpec:
    """One publisher process: its credentials and share of the messages."""

    host: str
    port: int
    client_id: str
    username: str | None
    password: str | None
    topic: str
    messages: int
    batch: int
    qos: int


def payload(seq: int, batch: int, ts: int | None = None) -> bytes:
    """A telemetry message carrying ``batch`` readings, stamped ``ts`` or now (latency is measured from it)."""
    if ts is None:
        ts = time.time_ns() // 1_000_000
    if batch == 1:
        return orjson.dumps({"ts": ts, "values": {"v": seq % 1000}, "seq": seq})
    return orjson.dumps([{"ts": ts, "values": {"v": i}, "seq": seq * batch + i} for i in range(batch)])


def _publish(spec: PublisherSpec, ready: Event, go: Event, done: mp.Queue[int]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=spec.client_id)
    if spec.username:
        client.username_pw_set(spec.username, spec.password)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(spec.host, spec.port, keepalive=60)
    client.loop_start()
    ready.set()
    go.wait()
    last = None
    for seq in range(spec.messages):
        last = client.publish(spec.topic, payload(seq, spec.batch), qos=spec.qos)
    if last is not None:
        last.wait_for_publish(timeout=300)
    client.disconnect()
    client.loop_stop()
    done.put(spec.messages)


class Publishers:
    """Starts the processes, releases them together, and waits for them."""

    def __init__(self, specs: list[PublisherSpec]) -> None:
        ctx = mp.get_context("spawn")
        self._go = ctx.Event()
        self._ready = [ctx.Event() for _ in specs]
        self._done: mp.Queue[int] = ctx.Queue()
        self._procs = [
            ctx.Process(target=_publish, args=(spec, ready, self._go, self._done), daemon=True)
            for spec, ready in zip(specs, self._ready, strict=True)
        ]

    def start(self, timeout_s: float = 60) -> None:
        for proc in self._procs:
            proc.start()
        for ready in self._ready:
            if not ready.wait(timeout_s):
                raise RuntimeError("a publisher process did not connect")

    def go(self) -> float:
        started = time.perf_counter()
        self._go.set()
        return started

    def join(self, timeout_s: float = 300) -> None:
        for proc in self._procs:
            proc.join(timeout_s)
            if proc.is_alive():
                proc.kill()

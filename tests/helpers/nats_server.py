"""A real nats-server with JetStream, started on a free port in a temp directory."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import orjson
from nats.js.errors import NotFoundError

from tests.helpers.ports import free_port, wait_listening

BINARY = shutil.which("nats-server") or "/usr/sbin/nats-server"
START_TIMEOUT = 10.0


@dataclass
class NatsServer:
    """``start()`` and ``stop()`` may be called again: the port and the JetStream store stay the same."""

    store: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [BINARY, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_listening(self.proc, self.port, "nats-server", START_TIMEOUT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


async def stream_records(url: str, stream: str) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Every record in ``stream``, read with a durable pull consumer (as a northbound app would)."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        sub = await js.pull_subscribe(">", durable="test-reader", stream=stream)
        out: list[tuple[dict[str, Any], dict[str, str]]] = []
        while len(out) < info.state.messages:
            for msg in await sub.fetch(min(500, info.state.messages - len(out)), timeout=5):
                out.append((orjson.loads(msg.data), dict(msg.headers or {})))
                await msg.ack()
        return out
    finally:
        await nc.close()


async def wait_for_records(
    url: str, stream: str, count: int, within: float = 30.0
) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """The records of ``stream`` once it holds at least ``count`` (the hub forwards after acknowledging)."""
    deadline = time.monotonic() + within
    while True:
        try:
            nc = await nats.connect(url)
            try:
                info = await nc.jetstream().stream_info(stream)
            finally:
                await nc.close()
            if info.state.messages >= count:
                return await stream_records(url, stream)
        except NotFoundError:
            pass
        assert time.monotonic() < deadline, f"fewer than {count} record(s) in {stream} after {within}s"
        await asyncio.sleep(0.05)  # polling the stream, bounded by the deadline

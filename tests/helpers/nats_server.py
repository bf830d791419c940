"""A real nats-server with JetStream, started on a free port in a temp directory."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

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

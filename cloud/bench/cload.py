"""Load generator in C: ``mosquitto_pub -l`` processes, so Python is not the limit.

Each process publishes as one device (its own credentials and client id), QoS 1 with a window
of in-flight messages. At full speed each reads its lines from a file written just before the
start, so no Python runs while it sends (the hub under test shares this process). Paced runs feed
lines built in advance from one thread, at the asked rate, each stamped with the time it is
written (the start of the device-to-stored latency): building 100-reading payloads while pacing
took the feeder a fifth of a core, which the hub under test then lacked.
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import IO

from cloud.bench.load import payload

#: ``mosquitto_pub -l`` at QoS 1 stops after about 65,500 messages (its message ids wrap); stay below.
MAX_PER_PROCESS = 60_000
#: What a paced run's process says once its publishers are started; it then waits for the go-ahead.
_STARTED = "publishers started"
#: Where a paced line's send time goes: as wide as epoch milliseconds (until the year 2286).
_STAMP = 9_999_999_999_999


@dataclass(frozen=True, slots=True)
class Device:
    """Who one publisher process is."""

    device_id: str
    password: str


class CPublishers:
    """One ``mosquitto_pub`` per device; :meth:`run` sends ``messages`` each and returns when all exited."""

    def __init__(
        self,
        port: int,
        devices: list[Device],
        messages: int,
        batch: int,
        *,
        rate: float | None = None,
        first_seq: int = 0,
    ) -> None:
        if messages > MAX_PER_PROCESS:
            raise ValueError(f"at most {MAX_PER_PROCESS} messages per publisher: use more publishers")
        binary = shutil.which("mosquitto_pub")
        if binary is None:
            raise RuntimeError("mosquitto_pub not found (Debian: apt install mosquitto-clients)")
        self._binary = binary
        self._port = port
        self._devices = devices
        self._messages = messages
        self._batch = batch
        self._first_seq = first_seq
        # Seconds between two lines of one process when paced.
        self._interval = None if rate is None else len(devices) / rate

    def _command(self, device: Device) -> list[str]:
        return [
            self._binary,
            *("-h", "127.0.0.1", "-p", str(self._port), "-q", "1", "-M", "1000", "-l"),
            *("-i", device.device_id, "-u", device.device_id, "-P", device.password),
            *("-t", f"devices/{device.device_id}/telemetry"),
        ]

    def _lines(self, ts: int | None = None) -> list[bytes]:
        return [
            payload(seq, self._batch, ts) + b"\n" for seq in range(self._first_seq, self._first_seq + self._messages)
        ]

    def _feed(self, procs: list[subprocess.Popen[bytes]], lines: list[bytes]) -> None:
        """Write each process the ``lines`` in turn, evenly spaced, stamped as they go."""
        assert self._interval is not None
        placeholder = str(_STAMP).encode()
        pipes = [proc.stdin for proc in procs]
        spacing = self._interval / len(pipes)
        next_at = time.perf_counter()
        for line in lines:
            for pipe in pipes:
                assert pipe is not None
                next_at += spacing
                delay = next_at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)  # pacing a fixed-rate run, not waiting on an event
                pipe.write(line.replace(placeholder, str(time.time_ns() // 1_000_000).encode()))
                pipe.flush()
        for pipe in pipes:
            assert pipe is not None
            pipe.close()

    def run(self, ready: Callable[[], bool] = lambda: True) -> float:
        """Send everything; return the start time (``perf_counter``) once every process has exited.

        A paced run feeds its lines from a process of its own: feeder threads in this process would
        compete for the interpreter with the hub being measured and add their waits to its latency.
        Its clock starts once ``ready()`` holds after the publishers were started (say, once the hub
        saw them connect): a line written before its publisher is connected waits in the pipe, and
        that wait would count as latency.
        """
        if self._interval is None:
            return self._run()
        ctx = mp.get_context("spawn")
        said: mp.Queue[float | str] = ctx.Queue()
        go = ctx.Event()
        child = ctx.Process(target=_run_in_child, args=(self, said, go), daemon=True)
        child.start()
        result = said.get(timeout=600)
        if result == _STARTED:
            wait_until(ready, 10.0, "the publishers to connect")
            go.set()
            result = said.get(timeout=600)
        child.join(60)
        if isinstance(result, str):
            raise RuntimeError(result)  # noqa: TRY004 - the child's error message, not a type error
        return result

    def _run(self, started_publishers: Callable[[], None] = lambda: None) -> float:
        with tempfile.TemporaryDirectory(prefix="fieldhub-load-") as tmp:
            if self._interval is None:
                inputs: list[IO[bytes] | int] = []
                for n, _ in enumerate(self._devices):
                    path = Path(tmp) / f"{n}.lines"
                    path.write_bytes(b"".join(self._lines()))
                    inputs.append(path.open("rb"))
            else:
                inputs = [subprocess.PIPE for _ in self._devices]
            started = time.perf_counter()
            procs = [
                subprocess.Popen(self._command(d), stdin=i, stderr=subprocess.PIPE)
                for d, i in zip(self._devices, inputs, strict=True)
            ]
            if self._interval is not None:
                # The same lines for every device (each has a session of its own), built before the clock starts.
                lines = self._lines(_STAMP)
                started_publishers()
                started = time.perf_counter()
                self._feed(procs, lines)
            for proc in procs:
                assert proc.stderr is not None
                err = proc.stderr.read()  # until the process exits: it closes stderr then
                if proc.wait(timeout=300) != 0:
                    said = err.decode(errors="replace")[:300]
                    raise RuntimeError(f"mosquitto_pub failed ({proc.returncode}): {said}")
            for i in inputs:
                if not isinstance(i, int):
                    i.close()
        return started


def _run_in_child(publishers: CPublishers, said: mp.Queue[float | str], go: Event) -> None:
    """A paced run in a process of its own; ``perf_counter`` is the system's monotonic clock, shared."""

    def announce() -> None:
        said.put(_STARTED)
        if not go.wait(60):
            raise RuntimeError("no go-ahead from the bench")

    try:
        said.put(publishers._run(announce))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        said.put(f"paced publishers failed: {exc}")


def wait_until(check: Callable[[], bool], within_s: float, what: str) -> None:
    """Poll ``check`` (the hub's view, across processes: there is no event to wait on) until it holds."""
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"waited {within_s:.0f} s in vain for {what}")
        time.sleep(0.01)

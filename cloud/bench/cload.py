"""Load generator in C: ``mosquitto_pub -l`` processes, so Python is not the limit.

Each process publishes as one device (its own credentials and client id), QoS 1 with a window
of in-flight messages. At full speed each reads its lines from a file written just before the
start, so no Python runs while it sends (the hub under test shares this process). Paced runs feed
lines from a thread at the asked rate, stamping each with the time it is written (the start of
the device-to-stored latency).
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from cloud.bench.load import payload

#: ``mosquitto_pub -l`` at QoS 1 stops after about 65,500 messages (its message ids wrap); stay below.
MAX_PER_PROCESS = 60_000


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

    def _lines(self) -> list[bytes]:
        return [payload(seq, self._batch) + b"\n" for seq in range(self._first_seq, self._first_seq + self._messages)]

    def _feed(self, proc: subprocess.Popen[bytes], start: threading.Event) -> None:
        assert proc.stdin is not None and self._interval is not None
        start.wait()
        next_at = time.perf_counter()
        for seq in range(self._first_seq, self._first_seq + self._messages):
            next_at += self._interval
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # pacing a fixed-rate run, not waiting on an event
            proc.stdin.write(payload(seq, self._batch) + b"\n")
            proc.stdin.flush()
        proc.stdin.close()

    def run(self) -> float:
        """Send everything; return the start time (``perf_counter``) once every process has exited.

        A paced run feeds its lines from a process of its own: feeder threads in this process would
        compete for the interpreter with the hub being measured and add their waits to its latency.
        """
        if self._interval is None:
            return self._run()
        ctx = mp.get_context("spawn")
        started: mp.Queue[float | str] = ctx.Queue()
        child = ctx.Process(target=_run_in_child, args=(self, started), daemon=True)
        child.start()
        result = started.get(timeout=600)
        child.join(60)
        if isinstance(result, str):
            raise RuntimeError(result)  # noqa: TRY004 - the child's error message, not a type error
        return result

    def _run(self) -> float:
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
            start = threading.Event()
            feeders = []
            if self._interval is not None:
                feeders = [threading.Thread(target=self._feed, args=(p, start), daemon=True) for p in procs]
                for feeder in feeders:
                    feeder.start()
                started = time.perf_counter()
                start.set()
            for feeder in feeders:
                feeder.join()
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


def _run_in_child(publishers: CPublishers, started: mp.Queue[float | str]) -> None:
    """A paced run in a process of its own; ``perf_counter`` is the system's monotonic clock, shared."""
    try:
        started.put(publishers._run())
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        started.put(f"paced publishers failed: {exc}")

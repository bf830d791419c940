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
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from cloud.bench.load import payload

#: ``mosquitto_pub -l`` at QoS 1 stops after about 65,500 messages (its message ids wrap); stay below.
MAX_PER_PROCESS = 60_000
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
            if self._interval is not None:
                # The same lines for every device (each has a session of its own), built before the clock starts.
                lines = self._lines(_STAMP)
                # Lines written before a publisher is connected would wait in its pipe, and count as latency.
                _wait_connected(procs, self._port)
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


def _wait_connected(procs: list[subprocess.Popen[bytes]], port: int, within_s: float = 10.0) -> None:
    """Wait until each process has a TCP connection to ``port`` established (read from ``/proc``)."""
    deadline = time.monotonic() + within_s
    waiting = {proc.pid for proc in procs}
    while waiting:
        established = _established_to(port)
        waiting = {pid for pid in waiting if _sockets_of(pid).isdisjoint(established)}
        if waiting and time.monotonic() > deadline:
            raise RuntimeError(f"mosquitto_pub did not connect to port {port} within {within_s} s")
        time.sleep(0.005)  # polling the kernel's tables: there is no event to wait on


def _established_to(port: int) -> set[str]:
    """Inodes of the sockets with an established connection to ``port`` (the broker's)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "01" and int(fields[2].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _sockets_of(pid: int) -> set[str]:
    fds = Path(f"/proc/{pid}/fd")
    targets = {str(fd.readlink()) for fd in fds.iterdir()}
    return {target[8:-1] for target in targets if target.startswith("socket:[")}


def _run_in_child(publishers: CPublishers, started: mp.Queue[float | str]) -> None:
    """A paced run in a process of its own; ``perf_counter`` is the system's monotonic clock, shared."""
    try:
        started.put(publishers._run())
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        started.put(f"paced publishers failed: {exc}")

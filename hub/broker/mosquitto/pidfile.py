"""The managed broker's pid file: which Mosquitto a hub started, so that the next hub can stop it if it survived.

Written at every start of the broker, removed when the hub stops it. A pid file still there at the
next start means the hub died without stopping its broker. The file holds the ids and identities
(command line and start time, see :mod:`hub.processes`) of both the broker and its hub, so that
a recycled id is never taken for either: a broker still running is stopped only if its hub is gone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import orjson

from hub import processes
from hub.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PidRecord:
    """What the pid file says: a broker process (id, argv, start time) and the hub that started it."""

    pid: int
    argv: tuple[str, ...]
    started: int | None
    hub_pid: int
    hub_started: int | None

    def is_broker(self, seen: processes.ProcessFacts | None) -> bool:
        """Whether ``seen`` (the process now running under :attr:`pid`) is the broker recorded here."""
        return seen is not None and self.started is not None and seen.argv == self.argv and seen.started == self.started

    def broker_running(self) -> bool:
        return self.is_broker(processes.facts(self.pid))

    def hub_running(self) -> bool:
        return self.hub_started is not None and processes.start_time(self.hub_pid) == self.hub_started

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "pid": self.pid,
                "argv": self.argv,
                "started": self.started,
                "hub_pid": self.hub_pid,
                "hub_started": self.hub_started,
            },
            option=orjson.OPT_INDENT_2,
        )

    @classmethod
    def from_json(cls, raw: bytes) -> Self:
        data = orjson.loads(raw)
        return cls(
            int(data["pid"]),
            tuple(str(arg) for arg in data["argv"]),
            None if data["started"] is None else int(data["started"]),
            int(data["hub_pid"]),
            None if data["hub_started"] is None else int(data["hub_started"]),
        )


class PidFile:
    """``mosquitto.pid`` in the broker's directory (JSON: ``pid``, ``argv``, ``started``, ``hub_pid``, ...)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, pid: int, argv: list[str]) -> None:
        """Record broker ``pid``, started as ``argv`` by this process (replaced atomically)."""
        hub = os.getpid()
        record = PidRecord(pid, tuple(argv), processes.start_time(pid), hub, processes.start_time(hub))
        scratch = self.path.with_name(self.path.name + ".new")
        scratch.write_bytes(record.to_json())
        scratch.replace(self.path)

    def read(self) -> PidRecord | None:
        try:
            return PidRecord.from_json(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring the unreadable pid file %s: %s", self.path, exc)
            return None

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    async def stop_stale(self, conf: Path, timeout_s: float) -> None:
        """Stop the broker that a dead hub left running with configuration ``conf``, and forget it.

        Raises:
            ConfigError: its hub still runs (two hubs on one data directory), or it would not stop.
        """
        record = self.read()
        if record is None or not processes.available():
            # Without /proc nothing can be told apart: the port check then names the port instead.
            return
        if not record.broker_running() or record.argv[-2:] != ("-c", str(conf)):
            # Ended with its hub, or its id now belongs to another process; or the file was copied
            # along with a data directory from elsewhere and names another directory's broker.
            self.remove()
            return
        if record.hub_running():
            raise ConfigError(
                f"the Mosquitto of {self.path.parent} (pid {record.pid}) belongs to a hub that is still "
                f"running (pid {record.hub_pid}); stop that hub or give this one another data_dir"
            )
        log.warning(
            "stopping the managed Mosquitto (pid %d) that a hub which died (pid %d) left running",
            record.pid,
            record.hub_pid,
        )
        for sig in (signal.SIGTERM, signal.SIGKILL):
            # Checked again right before each signal: an id that changed hands is never signalled.
            if not record.broker_running():
                break
            os.kill(record.pid, sig)
            if await _ended(record, timeout_s):
                break
            log.warning("the stale Mosquitto (pid %d) did not stop within %.0f s", record.pid, timeout_s)
        else:
            raise ConfigError(f"the Mosquitto left running by a dead hub (pid {record.pid}) would not stop")
        self.remove()


async def _ended(record: PidRecord, timeout_s: float) -> bool:
    """Whether the broker of ``record`` ended within ``timeout_s`` (it is no child of ours to wait for)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while record.broker_running():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)  # polling /proc, bounded by the deadline
    return True

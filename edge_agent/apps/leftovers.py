"""Service processes an agent left behind when it was killed, found by their pid files and stopped.

A python service runs in a session of its own (so that stopping it stops what it started), so it does not die
with an agent that is killed outright (``kill -9``, an out-of-memory kill): it would go on running unsupervised,
holding its port, after the agent comes back. Each service's pid is kept in ``[apps] dir/pids/{key}.pid`` while
it runs; at its start the agent stops every process such a file still names, if that process is still one of
its services (its environment names the instance: a pid the system reused for something else is left alone).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from pathlib import Path

log = logging.getLogger(__name__)
#: Every service's environment has it; it tells a service from whatever reuses its pid.
MARKER = b"FIELDHUB_INSTANCE="


def remember(pids: Path, key: str, pid: int) -> None:
    """Note that service ``key`` runs as ``pid``."""
    pids.mkdir(parents=True, exist_ok=True)
    (pids / f"{key}.pid").write_text(str(pid))


def forget(pids: Path, key: str) -> None:
    (pids / f"{key}.pid").unlink(missing_ok=True)


def stop_leftovers(pids: Path) -> list[str]:
    """Kill the process groups of services a previous run of the agent left; the keys of those stopped."""
    stopped = []
    for file in sorted(pids.glob("*.pid")) if pids.is_dir() else []:
        key = file.stem
        with contextlib.suppress(ValueError, OSError):
            pid = int(file.read_text())
            if MARKER in Path(f"/proc/{pid}/environ").read_bytes():
                os.killpg(pid, signal.SIGKILL)
                stopped.append(key)
        file.unlink(missing_ok=True)
    if stopped:
        log.warning("stopped %d app service(s) a previous run of the agent left running: %s", len(stopped), stopped)
    return stopped

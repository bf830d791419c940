"""Child processes on Linux: who a process is, which ports it listens on, and its tie to the hub.

A process id alone names nobody for long (ids are recycled): its command line together with its start
time (clock ticks after boot, fixed when it was forked) does. Which process listens on a port is a
socket in LISTEN state in ``/proc/<pid>/net/tcp{,6}`` whose inode is one of that process's open
descriptors. All of it comes from ``/proc``: elsewhere (:func:`available` is false) nothing is known.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_LISTEN = "0A"  # TCP state in /proc/net/tcp
#: Index of ``starttime`` (field 22 of ``/proc/<pid>/stat``) among the fields after the command name.
_STARTTIME = 19


def available() -> bool:
    """Whether this system has a Linux ``/proc`` to read processes and sockets from."""
    return sys.platform.startswith("linux") and Path("/proc/self/stat").exists()


@dataclass(frozen=True, slots=True)
class ProcessFacts:
    """A running process as ``/proc`` shows it: together, argv and start time name one process."""

    argv: tuple[str, ...]
    #: Clock ticks after boot at which the process was forked (the same before and after its exec).
    started: int


def start_time(pid: int) -> int | None:
    """When process ``pid`` was forked, in clock ticks after boot; None if it is gone or unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in parentheses may hold spaces and parentheses itself: fields follow the last ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):  # ended; a zombie keeps its id until its parent reaps it
        return None
    return int(fields[_STARTTIME])


def facts(pid: int) -> ProcessFacts | None:
    """Process ``pid``'s command line and start time; None once it has ended (or without ``/proc``)."""
    started = start_time(pid)
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if started is None or not cmdline:
        return None
    return ProcessFacts(tuple(os.fsdecode(arg) for arg in cmdline.split(b"\0")[:-1]), started)


def _listening_sockets(pid: int | str) -> dict[int, int]:
    """Socket inode -> port of every TCP listener in the network namespace of ``pid``."""
    sockets: dict[int, int] = {}
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            # sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
            fields = row.split()
            if fields[3] == _LISTEN:
                sockets[int(fields[9])] = int(fields[1].rsplit(":", 1)[1], 16)
    return sockets


def _socket_inodes(pid: int | str) -> set[int]:
    inodes: set[int] = set()
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # gone, or another user's process
        return inodes
    for fd in descriptors:
        try:
            target = str(fd.readlink())
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def listening_ports(pid: int) -> set[int]:
    """The TCP ports that process ``pid`` itself listens on (empty once it has ended)."""
    inodes = _socket_inodes(pid)
    return {port for inode, port in _listening_sockets(pid).items() if inode in inodes} if inodes else set()


def listeners(port: int) -> list[int]:
    """The processes this user can see that listen on TCP ``port`` (on any address)."""
    wanted = {inode for inode, listened in _listening_sockets("self").items() if listened == port}
    if not wanted:
        return []
    pids = (entry.name for entry in Path("/proc").iterdir() if entry.name.isdigit())
    return sorted(int(pid) for pid in pids if wanted & _socket_inodes(pid))


def parent_death_signal(sig: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` after which the child gets ``sig`` when the *thread* that forked it ends (Linux).

    Whatever way the parent ends, ``kill -9`` included, the kernel sends the signal. It is tied to the
    forking thread, not the process: fork from a thread that lives as long as the child should (the
    event loop's). None where there is no such thing (macOS, BSD).

    Python warns that a ``preexec_fn`` may deadlock in a process with threads, when the child needs a
    lock another thread held at the fork. This one needs none: ``prctl`` was looked up before the fork,
    and the child only calls it and ``getppid``.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()
    arg = ctypes.c_ulong

    def tie_to_parent() -> None:
        if prctl(_PR_SET_PDEATHSIG, arg(sig), arg(0), arg(0), arg(0)) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        # The parent may have died between the fork and the prctl: then no signal would ever come.
        if os.getppid() != parent:
            raise ChildProcessError("the parent exited before the child started")

    return tie_to_parent

"""Test servers that are fetched once into a cache and run as child processes, stopped by their PID.

The cache root is ``~/.cache/fieldhub-tests`` (``$FIELDHUB_TEST_CACHE`` replaces it). A fetch is staged in a
temporary directory and renamed into place, so one cut short is never mistaken for a complete one; a file lock
makes parallel pytest workers fetch only once.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

FETCH_OUTPUT_TAIL = 4000

_log = logging.getLogger(__name__)


def require(tool: str, needed_by: str) -> str:
    """The path of ``tool``; a missing one should read as a setup problem (``needed_by`` says how to fix it)."""
    path = shutil.which(tool)
    if path is None:
        raise RuntimeError(f"`{tool}` is not on PATH: {needed_by}")
    return path


def cache_root() -> Path:
    """Where fetched test servers are kept between runs."""
    return Path(os.environ.get("FIELDHUB_TEST_CACHE") or Path.home() / ".cache" / "fieldhub-tests")


def fetch_once(target: Path, marker: str, fetch: Callable[[Path], list[str]], what: str, timeout: float) -> Path:
    """``target``, filled on first use by the command ``fetch(staged)``, which must create ``staged/marker``.

    Args:
        target: the cached directory; complete when ``target/marker`` is a file.
        marker: a path below ``target`` that only a complete fetch creates.
        fetch: the command that fills the staging directory it is given (which does not exist yet).
        what: the name and version fetched, for the log and errors.
        timeout: how long the fetch may take, in seconds.
    """
    if (target / marker).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f".{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, even if this process dies
        if (target / marker).is_file():  # another worker finished while this one waited
            return target
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-download-") as tmp:
            staged = Path(tmp) / target.name
            command = fetch(staged)
            started = time.monotonic()
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
            if result.returncode != 0 or not (staged / marker).is_file():
                output = (result.stdout + result.stderr)[-FETCH_OUTPUT_TAIL:]
                tool = Path(command[0]).name
                raise RuntimeError(f"{tool} could not fetch {what} (exit {result.returncode}):\n{output}")
            if target.exists():  # left by hand or an interrupted copy: it lacks the marker, so it is incomplete
                shutil.rmtree(target)
            staged.rename(target)  # relative links inside (npm's .bin) stay valid
            _log.info("fetched %s in %.1f s", what, time.monotonic() - started)
    return target


class ServerProcess:
    """A server run as a child process with its output in ``work/<log_name>``; a context manager.

    Subclasses build the command and say when the server answers; ``start()`` after ``stop()`` starts it again.
    """

    name: ClassVar[str]
    log_name: ClassVar[str]
    start_timeout: ClassVar[float]
    stop_timeout: ClassVar[float]
    poll_s: ClassVar[float] = 0.05

    def __init__(self, work: Path) -> None:
        self.work = work
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.work / self.log_name

    def start(self) -> None:
        """Start the server and return once it answers."""
        if self.proc is not None:
            raise RuntimeError(f"{self.name} is already running")
        self.work.mkdir(parents=True, exist_ok=True)
        command = self._prepare()
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready(self.proc, self._readiness())
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM lets the server shut down cleanly (Kafka closes its logs, so the next start needs no recovery)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.is_file():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _prepare(self) -> list[str]:
        """Fetch, pick ports, write configuration (``work`` exists); return the command that runs the server."""
        raise NotImplementedError

    def _readiness(self) -> Callable[[], bool]:
        """A check that is true once the started server answers; it may raise ``OSError`` while it does not."""
        raise NotImplementedError

    def _wait_ready(self, proc: subprocess.Popen[bytes], answers: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                if answers():
                    return
            except OSError:
                pass  # not listening yet
            try:
                code = proc.wait(self.poll_s)  # paces the loop and notices a crash at once
            except subprocess.TimeoutExpired:
                pass
            else:
                raise RuntimeError(f"{self.name} exited with {code} while starting:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer within {self.start_timeout:.0f} s:\n{self.log_tail()}")

"""The python runtime: each app version in its own virtual environment, each service a child process.

The environment is made once per app version (:attr:`Launch.version_key`) under ``[apps] dir``/envs and reused
by every instance and restart of that version; a marker file written last tells a finished one from a
half-made one (pip failed, the agent stopped), which is rebuilt. Without a requirements file it is
made ``--without-pip`` (a fraction of a second); with one, pip installs it from the package index the node is
configured for (pip's own config and environment, plus ``[apps] pip_args``).

A service runs with the environment's interpreter in place of ``python`` in its command, in the unpacked
package, in a session of its own, so stopping it stops whatever it started too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from edge_agent.apps.leftovers import forget, remember
from edge_agent.apps.runtime import Launch, LogSink, RuntimeFailed

#: Written into an environment once it is complete.
_READY = ".fieldhub-ready"
#: The lines of pip's output kept for a failure's reason.
_REASON_LINES = 5
_LINE_LIMIT = 64 * 1024
#: Variables of the agent's own environment a service inherits (locale, time zone, proxies for pip).
_INHERITED = (
    "LANG",
    "LC_ALL",
    "TZ",
    "HOME",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "PIP_INDEX_URL",
    "PIP_CONFIG_FILE",
)


class PythonRuntime:
    """Runs ``kind = "python"`` services; see the module docstring."""

    def __init__(self, envs: Path, pids: Path, python: str = "python3", pip_args: Sequence[str] = ()) -> None:
        self._envs = envs
        self._pids = pids
        self._python = python if os.sep in python else (shutil.which(python) or sys.executable)
        self._pip_args = list(pip_args)
        self._locks: dict[str, asyncio.Lock] = {}

    def env_dir(self, launch: Launch) -> Path:
        return self._envs / launch.version_key

    async def prepare(self, launch: Launch, log: LogSink) -> None:
        target = self.env_dir(launch)
        if (target / _READY).is_file():
            return
        async with self._locks.setdefault(launch.version_key, asyncio.Lock()):
            if (target / _READY).is_file():
                return
            # Scripts pip installs hold the environment's absolute path: build it where it will live, and mark
            # it ready last, so a half-made one (pip failed, the agent stopped) is rebuilt, never used.
            shutil.rmtree(target, ignore_errors=True)
            self._envs.mkdir(parents=True, exist_ok=True)
            try:
                await self._build(target, launch, log)
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                raise
            (target / _READY).touch()

    async def _build(self, target: Path, launch: Launch, log: LogSink) -> None:
        requirements = launch.service.runtime.requirements
        venv = [self._python, "-m", "venv", str(target)]
        if requirements is None:
            venv.insert(3, "--without-pip")
        await _run(venv, log, "creating the virtual environment failed")
        if requirements is not None:
            pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
            pip += [*self._pip_args, "-r", str(launch.source / requirements)]
            await _run(pip, log, f"installing {requirements} failed", cwd=launch.source)

    async def start(self, launch: Launch, log: LogSink) -> Process:
        command = list(launch.service.runtime.command or ["python", "main.py"])
        env_bin = self.env_dir(launch) / "bin"
        if command[0] in ("python", "python3"):
            command[0] = str(env_bin / "python")
        env = {key: os.environ[key] for key in _INHERITED if key in os.environ}
        env |= {
            "PATH": f"{env_bin}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
            "VIRTUAL_ENV": str(self.env_dir(launch)),
            "PYTHONPATH": str(launch.sdk_dir),
            "PYTHONUNBUFFERED": "1",
            "FIELDHUB_SDK_SOCKET": str(launch.sdk_socket),
            "FIELDHUB_DATA_DIR": str(launch.workdir),
        }
        env |= launch.env
        try:
            proc = await asyncio.create_subprocess_exec(
                *command,
                cwd=launch.source,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                limit=_LINE_LIMIT,
            )
        except OSError as exc:
            raise RuntimeFailed(f"cannot start {command[0]!r}: {exc.strerror}") from None
        remember(self._pids, launch.key, proc.pid)
        return Process(proc, log, partial(forget, self._pids, launch.key))

    async def close(self) -> None:
        """Nothing held between services."""


class Process:
    """A running service process and the tasks reading its output."""

    def __init__(self, proc: asyncio.subprocess.Process, log: LogSink, stopped: Callable[[], None]) -> None:
        self._proc = proc
        self._stopped = stopped
        assert proc.stdout is not None and proc.stderr is not None
        self._readers = [
            asyncio.create_task(_lines(proc.stdout, "stdout", log)),
            asyncio.create_task(_lines(proc.stderr, "stderr", log)),
        ]

    @property
    def ident(self) -> str:
        return str(self._proc.pid)

    async def wait(self) -> int:
        code = await self._proc.wait()
        # Output written just before the exit is still in the pipes: read it to the end.
        await asyncio.gather(*self._readers, return_exceptions=True)
        return code

    async def stop(self, grace_s: float) -> None:
        if self._proc.returncode is None:
            _signal_group(self._proc.pid, signal.SIGTERM)
            try:
                async with asyncio.timeout(grace_s):
                    await self._proc.wait()
            except TimeoutError:
                _signal_group(self._proc.pid, signal.SIGKILL)
                await self._proc.wait()
        else:
            # The service is gone; children it left in its session go with it.
            _signal_group(self._proc.pid, signal.SIGKILL)
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        self._stopped()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def _lines(stream: asyncio.StreamReader, name: str, log: LogSink) -> None:
    while True:
        try:
            line = await stream.readline()
        except ValueError:  # a line over the limit: skip the rest of it
            continue
        if not line:
            return
        log(name, line.decode("utf-8", "replace").rstrip("\r\n"))


async def _run(command: list[str], log: LogSink, failure: str, cwd: Path | None = None) -> None:
    """Run a preparation step; its output goes to ``log``; a failure raises with its last lines."""
    proc = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        limit=_LINE_LIMIT,
    )
    assert proc.stdout is not None
    tail: list[str] = []

    def keep(stream: str, line: str) -> None:
        log(stream, line)
        if line.strip():
            tail.append(line.strip())
            del tail[:-_REASON_LINES]

    try:
        await _lines(proc.stdout, "stdout", keep)
        code = await proc.wait()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    if code != 0:
        raise RuntimeFailed(f"{failure} (exit {code}): {' | '.join(tail)}"[:1000])

"""``fieldhub`` as a real child process, for tests of the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from cloud.ingest_replica import replica_command
from tests.helpers.hub import ADMIN_PASSWORD

STOP_TIMEOUT = 30.0


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI call: the test admin password, nothing from the developer's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDHUB_")}
    return {**env, "FIELDHUB_ADMIN_PASSWORD": ADMIN_PASSWORD, **extra}


def fieldhub(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run one ``fieldhub`` command to completion."""
    return subprocess.run(
        [sys.executable, "-m", "cloud.cli.main", *args],
        capture_output=True,
        text=True,
        env=env or cli_env(),
        timeout=timeout,
        check=False,
    )


@dataclass
class HubProcess:
    """A running ``fieldhub up`` and the addresses it printed.

    Its output is read all along by a thread: a child writing into a full pipe would stall.
    """

    proc: subprocess.Popen[str]
    url: str
    mqtt_port: int
    lines: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None

    _changed: threading.Condition = field(default_factory=threading.Condition)

    def follow(self) -> None:
        assert self.proc.stdout is not None
        stdout = self.proc.stdout

        def read() -> None:
            for line in stdout:
                with self._changed:
                    self.lines.append(line)
                    self._changed.notify_all()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()

    def wait_for_line(self, prefix: str, timeout: float = 30.0) -> str:
        """The first output line starting with ``prefix``, waiting for it up to ``timeout`` seconds."""

        def found() -> str | None:
            return next((line for line in self.lines if line.startswith(prefix)), None)

        with self._changed:
            line = self._changed.wait_for(found, timeout)
        assert line is not None, f"no line starting with {prefix!r} within {timeout}s:\n" + "".join(self.lines)
        return line

    def stop(self, sig: int = signal.SIGTERM) -> str:
        """Signal the hub, wait for it to exit and return everything it printed."""
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            if self._reader is not None:
                self._reader.join(STOP_TIMEOUT)
            if self.proc.stdout is not None:
                self.proc.stdout.close()
        return "".join(self.lines)


def start_hub(
    data: Path, *extra: str, env: dict[str, str] | None = None, open_files: int | None = None, cwd: Path | None = None
) -> HubProcess:
    """Start ``fieldhub up`` on free ports and wait until it reports its addresses.

    ``open_files`` runs it under that open-file limit (soft and hard, as ``ulimit -n`` would).
    """
    limit = ["prlimit", f"--nofile={open_files}:{open_files}", "--"] if open_files else []
    proc = subprocess.Popen(
        [
            *limit,
            sys.executable,
            "-m",
            "cloud.cli.main",
            "up",
            "--data-dir",
            str(data),
            "--mqtt-port",
            "0",
            "--http-port",
            "0",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env or cli_env(),
        cwd=cwd,
    )
    assert proc.stdout is not None
    url, mqtt_port, seen = "", 0, []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("Fieldhub is up: "):
            url = line.split()[3]
        if line.startswith("MQTT broker: "):
            mqtt_port = int(line.rsplit(":", 1)[1])
            break
    if not (url and mqtt_port):
        proc.kill()
        raise AssertionError("fieldhub up did not report its addresses:\n" + "".join(seen))
    hub = HubProcess(proc, url, mqtt_port, seen)
    hub.follow()
    return hub


@contextmanager
def running_hub_process(
    data: Path, *extra: str, env: dict[str, str] | None = None, open_files: int | None = None, cwd: Path | None = None
) -> Iterator[HubProcess]:
    """``start_hub`` that always stops (or kills) the process on the way out."""
    hub = start_hub(data, *extra, env=env, open_files=open_files, cwd=cwd)
    try:
        yield hub
    finally:
        if hub.proc.poll() is None:
            hub.stop(signal.SIGINT)


@contextmanager
def logged_in(url: str, password: str = ADMIN_PASSWORD) -> Iterator[httpx.Client]:
    """A synchronous API client logged in as the admin (for tests that drive child processes)."""
    with httpx.Client(base_url=url, timeout=20) as http:
        token = http.post("/api/v1/auth/token", data={"username": "admin", "password": password})
        assert token.status_code == 200, token.text
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield http


def start_replica(data: Path, broker_port: int, replica_id: str, *extra: str) -> HubProcess:
    """Start ``fieldhub serve --role ingest`` against the managed Mosquitto of the hub using ``data``."""
    command, env = replica_command(data, broker_port, replica_id)
    command += extra
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**env, **cli_env()}
    )
    replica = HubProcess(proc, "", broker_port)
    replica.follow()
    replica.wait_for_line(f"Ingest replica {replica_id} is up")
    return replica


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a child that exited but was not reaped still does)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

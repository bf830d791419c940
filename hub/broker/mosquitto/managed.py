"""A Mosquitto child process run by the hub: generated configuration, dynamic security, own data dir.

The plugin's configuration is written from the registry at every start, so the broker begins
exactly in step with it. The process is stopped with the hub; its persistence file keeps the
messages queued for the hub's session across restarts. Should Mosquitto die while the hub runs, it
is started again (with backoff) from the same files: the plugin saves every account change to its
file, so that file is current.

The broker does not outlive its hub. On Linux it is started with a parent-death signal: the kernel
sends it SIGTERM when the hub's event-loop thread ends, ``kill -9`` of the hub included. Its pid file
(``mosquitto.pid``, see :mod:`hub.broker.mosquitto.pidfile`) names it, so that a broker which survived
a dead hub anyway is stopped at the next start. A port that anything else holds refuses the start, and
the broker counts as started only once its own process listens (an answer on the port could come from
another program while this Mosquitto exits for want of the port).
"""

from __future__ import annotations

import asyncio
import logging
import os
import pwd
import shutil
import signal
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Self

import orjson

from hub import processes
from hub.broker.base import TlsListener
from hub.broker.mosquitto.dynsec import config_document
from hub.broker.mosquitto.pidfile import PidFile
from hub.errors import ConfigError
from hub.net import free_port, port_in_use, wait_listening
from hub.retry import Backoff
from hub.store.registry import DeviceSecret
from hub.tasks import Background

log = logging.getLogger(__name__)

_PLUGIN = "mosquitto_dynamic_security.so"
#: Where distributions put the plugin (Debian: a multiarch directory).
_PLUGIN_DIRS = (("/usr/lib", f"*-linux-gnu/{_PLUGIN}"), ("/usr/lib", _PLUGIN), ("/usr/local/lib", _PLUGIN))
_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 10.0
_RESTART = Backoff(first_s=1.0, cap_s=30.0)
#: How Mosquitto 2 logs a CONNECT it refused.
_REFUSED = b"disconnected, not authorised."
_LOG_POLL_S = 0.5
#: Messages the broker queues per client while it is slow or away (its default, 1000, drops the rest).
_MAX_QUEUED = 1_000_000
#: The hub settings that choose each listener's port, named when that port is taken.
_MQTT_PORT_SETTING = "mqtt_port (--mqtt-port, FIELDHUB_MQTT_PORT)"
_MQTTS_PORT_SETTING = "mqtts_port (FIELDHUB_MQTTS_PORT)"


def find_plugin() -> Path:
    for directory, pattern in _PLUGIN_DIRS:
        for match in sorted(Path(directory).glob(pattern)):
            return match
    raise ConfigError("the Mosquitto dynamic security plugin was not found (Debian: apt install mosquitto)")


class ManagedMosquitto:
    """``async with`` starts ``mosquitto`` on ``host:port`` (0 picks a free port) and stops it."""

    def __init__(
        self,
        workdir: Path,
        host: str,
        port: int,
        *,
        service_user: str,
        service_password: str,
        devices: Iterable[DeviceSecret],
        tls: TlsListener | None = None,
        binary: str = "mosquitto",
        refused: Callable[[], None] = lambda: None,
    ) -> None:
        self._workdir = workdir
        self._host = host
        self.port = port or free_port(host)
        self.tls_port = None if tls is None else tls.port or free_port(host)
        self._tls = tls
        self._service = (service_user, service_password)
        self._devices = list(devices)
        self._binary = binary
        self._refused = refused
        self._proc: asyncio.subprocess.Process | None = None
        self._conf = workdir / "mosquitto.conf"
        self._command: list[str] = []
        self._pidfile = PidFile(workdir / "mosquitto.pid")
        self._log = workdir / "mosquitto.log"
        self._log_start = 0  # where this start's lines begin in the log
        self._background = Background()

    def _write_config(self) -> None:
        dynsec = self._workdir / "dynamic-security.json"
        # The plugin file holds the hub's service password hash: readable by this user only.
        fd = os.open(dynsec, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            # Not indented: a third less to write and for Mosquitto to read (~170 MB for 100,000 devices).
            fh.write(orjson.dumps(config_document(*self._service, self._devices)))
        lines = [
            # Started as root, Mosquitto would switch to its own user, which cannot read these files.
            f"user {pwd.getpwuid(os.getuid()).pw_name}",
            "per_listener_settings false",
            "allow_anonymous false",
            f"listener {self.port} {self._host}",
        ]
        if self._tls is not None:
            lines += [
                f"listener {self.tls_port} {self._host}",
                f"certfile {self._tls.certfile}",
                f"keyfile {self._tls.keyfile}",
            ]
        lines += [
            f"plugin {find_plugin()}",
            f"plugin_opt_config_file {dynsec}",
            "persistence true",
            f"persistence_location {self._workdir}/",
            "autosave_interval 30",
            f"max_queued_messages {_MAX_QUEUED}",
            "max_inflight_messages 1000",
            # $SYS/broker/... figures every second (clients connected, messages, load) for monitoring.
            "sys_interval 1",
            # Flushed line by line; the hub counts the connections Mosquitto refuses from it (_count_refusals).
            f"log_dest file {self._log}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_timestamp false",
        ]
        self._conf.write_text("\n".join(lines) + "\n")

    async def __aenter__(self) -> Self:
        binary = shutil.which(self._binary) or shutil.which(self._binary, path="/usr/sbin")
        if binary is None:
            raise ConfigError(f"{self._binary!r} not found: install Mosquitto 2 (Debian: apt install mosquitto)")
        self._command = [binary, "-c", str(self._conf)]
        self._workdir.mkdir(parents=True, exist_ok=True)
        # A broker that outlived a killed hub holds the port and would take the devices' traffic: it is
        # stopped before its files are rewritten (it saves its queued messages on SIGTERM).
        await self._pidfile.stop_stale(self._conf, _STOP_TIMEOUT_S)
        # Seconds with many devices: off the event loop, which serves the hub meanwhile.
        await asyncio.to_thread(self._write_config)
        await self._background.open()
        try:
            await self._launch()
        except BaseException:
            await self._background.close()
            raise
        self._background.spawn(self._supervise(), name="mosquitto-supervisor")
        return self

    @property
    def pid(self) -> int | None:
        """The running Mosquitto's process id."""
        return None if self._proc is None or self._proc.returncode is not None else self._proc.pid

    async def _launch(self) -> None:
        self._refuse_taken_ports()
        self._log_start = self._log.stat().st_size if self._log.exists() else 0
        with (self._workdir / "mosquitto.stderr").open("wb") as stderr:
            # Forked here, on the event loop's thread, which lives as long as the hub: the parent-death
            # signal follows the forking thread, not the process.
            self._proc = await asyncio.create_subprocess_exec(
                *self._command,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
                preexec_fn=processes.parent_death_signal(signal.SIGTERM),
            )
        try:
            self._pidfile.write(self._proc.pid, self._command)
            await self._wait_listening()
        except BaseException:
            await self._stop()
            self._pidfile.remove()
            raise
        log.info("managed Mosquitto (pid %d) listening on %s:%d", self._proc.pid, self._host, self.port)
        self._background.spawn(self._count_refusals(self._proc, self._log_start), name="mosquitto-log")

    async def _count_refusals(self, proc: asyncio.subprocess.Process, start: int) -> None:
        """Count each connection ``proc`` refuses, from the lines it adds to its log after ``start``.

        The log does not say why (wrong or unknown credentials, a disabled device, a foreign client id
        alike). A file rather than a pipe: Mosquitto buffers a pipe, and would stall on a full one.
        """
        with self._log.open("rb") as log_file:
            log_file.seek(start)
            partial = b""
            while True:
                ended = proc.returncode is not None
                lines = (partial + log_file.read()).split(b"\n")
                partial = lines.pop()
                for _ in range(sum(line.endswith(_REFUSED) for line in lines)):
                    self._refused()
                if ended:
                    return
                await asyncio.sleep(_LOG_POLL_S)  # following a file: nothing to wait on but time

    async def _supervise(self) -> None:
        delays = _RESTART.delays()
        while True:
            assert self._proc is not None
            code = await self._proc.wait()
            delay = next(delays)
            log.error("managed Mosquitto exited with %s; starting it again in %.1f s", code, delay)
            await asyncio.sleep(delay)  # backoff between restarts of a broker that keeps failing
            try:
                await self._launch()
            except ConfigError as exc:
                log.error("managed Mosquitto did not come back: %s", exc.message)  # noqa: TRY400 - no traceback
                continue
            delays = _RESTART.delays()

    def _refuse_taken_ports(self) -> None:
        for what, port, setting in (
            ("MQTT", self.port, _MQTT_PORT_SETTING),
            ("MQTT over TLS", self.tls_port, _MQTTS_PORT_SETTING),
        ):
            if port is not None and port_in_use(self._host, port):
                raise ConfigError(
                    f"{what} port {self._host}:{port} is already in use{_holder(port)}; "
                    f"stop that program or set {setting} to a free port"
                )

    async def _wait_listening(self) -> None:
        proc = self._proc
        assert proc is not None
        if await self._listens(proc):
            return
        if proc.returncode is not None:
            raise ConfigError(f"Mosquitto exited at start ({proc.returncode}): {self._said()}")
        raise ConfigError(f"Mosquitto did not listen on {self._host}:{self.port}")

    async def _listens(self, proc: asyncio.subprocess.Process) -> bool:
        """Whether ``proc`` itself came to listen on the broker's ports within the start timeout."""
        if not processes.available():
            # Only an answer on the port can tell here; the port was free just before the start.
            def exited() -> bool:
                return proc.returncode is not None

            return await wait_listening(self._host, self.port, exited, _START_TIMEOUT_S) and not exited()
        ports = {port for port in (self.port, self.tls_port) if port is not None}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _START_TIMEOUT_S
        while proc.returncode is None:
            if ports <= processes.listening_ports(proc.pid):
                return True
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.02)  # polling /proc, bounded by the deadline
        return False

    def _said(self) -> str:
        """What Mosquitto wrote at this start, on one line: its stderr, then its log.

        Errors found once the configuration is read (a port in use among them) go to the log only.
        """
        said = (self._workdir / "mosquitto.stderr").read_bytes()
        if self._log.exists():
            with self._log.open("rb") as log_file:
                log_file.seek(self._log_start)
                said += log_file.read()
        lines = said.decode(errors="replace").splitlines()
        return "; ".join(line.strip() for line in lines if line.strip())[-500:]

    async def _stop(self) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            async with asyncio.timeout(_STOP_TIMEOUT_S):
                await proc.wait()
        except TimeoutError:
            log.warning("Mosquitto did not stop within %.0f s; killing it", _STOP_TIMEOUT_S)
            proc.kill()
            await proc.wait()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._background.close()
        await self._stop()
        self._pidfile.remove()


def _holder(port: int) -> str:
    """`` by pid N (program)`` for whoever listens on ``port``, where ``/proc`` tells."""
    for pid in processes.listeners(port) if processes.available() else ():
        seen = processes.facts(pid)
        # The program's name only: the rest of a command line may hold another program's secrets.
        return f" by pid {pid}" + (f" ({Path(seen.argv[0]).name})" if seen and seen.argv else "")
    return ""

"""A Mosquitto child process run by the hub: generated configuration, dynamic security, own data dir.

The plugin's configuration is written from the registry at every start, so the broker begins
exactly in step with it. The process is stopped with the hub; its persistence file keeps the
messages queued for the hub's session across restarts. Should Mosquitto die while the hub runs, it
is started again (with backoff) from the same files: the plugin saves every account change to its
file, so that file is current.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pwd
import shutil
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Self

import orjson

from hub.broker.embedded import TlsListener
from hub.broker.mosquitto.dynsec import config_document
from hub.errors import ConfigError
from hub.net import free_port, wait_listening
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
#: Messages the broker queues per client while it is slow or away (its default, 1000, drops the rest).
_MAX_QUEUED = 1_000_000


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
    ) -> None:
        self._workdir = workdir
        self._host = host
        self.port = port or free_port(host)
        self.tls_port = None if tls is None else tls.port or free_port(host)
        self._tls = tls
        self._service = (service_user, service_password)
        self._devices = list(devices)
        self._binary = binary
        self._proc: asyncio.subprocess.Process | None = None
        self._command: list[str] = []
        self._background = Background()

    def _write_config(self) -> Path:
        self._workdir.mkdir(parents=True, exist_ok=True)
        dynsec = self._workdir / "dynamic-security.json"
        # The plugin file holds the hub's service password hash: readable by this user only.
        fd = os.open(dynsec, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps(config_document(*self._service, self._devices), option=orjson.OPT_INDENT_2))
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
            f"log_dest file {self._workdir / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_timestamp false",
        ]
        conf = self._workdir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    async def __aenter__(self) -> Self:
        binary = shutil.which(self._binary) or shutil.which(self._binary, path="/usr/sbin")
        if binary is None:
            raise ConfigError(f"{self._binary!r} not found: install Mosquitto 2 (Debian: apt install mosquitto)")
        conf = self._write_config()
        self._command = [binary, "-c", str(conf)]
        await self._launch()
        await self._background.open()
        self._background.spawn(self._supervise(), name="mosquitto-supervisor")
        return self

    @property
    def pid(self) -> int | None:
        """The running Mosquitto's process id."""
        return None if self._proc is None or self._proc.returncode is not None else self._proc.pid

    async def _launch(self) -> None:
        with (self._workdir / "mosquitto.stderr").open("wb") as stderr:
            self._proc = await asyncio.create_subprocess_exec(
                *self._command, stdout=asyncio.subprocess.DEVNULL, stderr=stderr
            )
        try:
            await self._wait_listening()
        except BaseException:
            await self._stop()
            raise
        log.info("managed Mosquitto (pid %d) listening on %s:%d", self._proc.pid, self._host, self.port)

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

    async def _wait_listening(self) -> None:
        proc = self._proc
        assert proc is not None
        if await wait_listening(self._host, self.port, lambda: proc.returncode is not None, _START_TIMEOUT_S):
            return
        if proc.returncode is not None:
            said = (self._workdir / "mosquitto.stderr").read_text(errors="replace").strip()[-500:]
            raise ConfigError(f"Mosquitto exited at start ({proc.returncode}): {said}")
        raise ConfigError(f"Mosquitto did not listen on {self._host}:{self.port}")

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

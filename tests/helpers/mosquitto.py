"""A real Mosquitto with the dynamic security plugin, started as an *external* broker for the hub."""

from __future__ import annotations

import os
import pwd
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from hub.broker.mosquitto.dynsec import config_document
from hub.broker.mosquitto.managed import find_plugin
from hub.store.registry import DeviceSecret
from tests.helpers.ports import free_port, wait_listening

SERVICE_USER = "fieldhub-ext"
SERVICE_PASSWORD = "external-service-password-for-tests"


@dataclass
class ExternalMosquitto:
    """Configured the way docs/operations.md tells an operator to: the hub's account and role."""

    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    #: ``(cert, key)``: also listen with TLS on :attr:`tls_port`.
    tls: tuple[Path, Path] | None = None
    tls_port: int = field(default_factory=free_port)

    def start(self, devices: Iterable[DeviceSecret] = ()) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        dynsec = self.workdir / "dynsec.json"
        if not dynsec.exists():
            dynsec.write_bytes(orjson.dumps(config_document(SERVICE_USER, SERVICE_PASSWORD, devices)))
        conf = self.workdir / "mosquitto.conf"
        user = pwd.getpwuid(os.getuid()).pw_name  # as root, Mosquitto would switch to a user of its own
        conf.write_text(
            f"user {user}\nlistener {self.port} 127.0.0.1\nallow_anonymous false\n"
            f"plugin {find_plugin()}\nplugin_opt_config_file {dynsec}\n"
            "log_timestamp false\nmax_queued_messages 100000\n"
        )
        if self.tls is not None:
            cert, key = self.tls
            with conf.open("a") as out:
                out.write(f"listener {self.tls_port} 127.0.0.1\ncertfile {cert}\nkeyfile {key}\n")
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_listening(self.proc, self.port, "mosquitto")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

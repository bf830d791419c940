"""A Docker Engine API for tests: ``podman system service`` on a socket of its own, as root, without a registry.

Everything the service keeps (images, containers, its database, events) lives in its work directory, but for the
storage's runroot, in a short directory of /tmp of its own; so test sessions running at the same time never see,
replace or remove each other's containers. Network addresses come from podman's host-wide IPAM database, which
concurrent services share without clashing.

The storage is not cached between sessions, on purpose: podman 4.3 keeps its container database under the
storage's graphroot (``static_dir`` in containers.conf is lost on the way to ``podman container cleanup``, which
conmon runs when a container exits: every wait then lasts conmon's 20 s timeout), so a shared storage would mean
a shared database. The base image costs little to make again: ``fieldhub-test-busybox:latest``, busybox-static
imported as one layer, takes about 0.1 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import ClassVar

import docker
from docker.errors import DockerException

from tests.helpers.servers import ServerProcess, require

BASE_IMAGE = "fieldhub-test-busybox:latest"
_SETUP = "make test-servers installs podman, runc, busybox-static and catatonit"
#: The ulimits avoid "error setting rlimit" from runc under the test machines' limits; init_path serves init=True.
_CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
init_path = "{init}"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{work}/events.log"
tmp_dir = "{work}/tmp"
volume_path = "{work}/volumes"

[network]
network_config_dir = "{work}/networks"
"""
_STORAGE_CONF = """\
[storage]
driver = "overlay"
graphroot = "{work}/storage"
runroot = "{runroot}"

[storage.options.overlay]
# Otherwise the driver bind-mounts its own directory and leaves it mounted: pytest could not delete the work dir.
skip_mount_home = "true"
"""


class PodmanService(ServerProcess):
    """``podman system service`` answering on ``work/podman.sock`` with ``BASE_IMAGE``; ``url`` is its DOCKER_HOST."""

    name = "podman system service"
    log_name = "podman.log"
    start_timeout: ClassVar[float] = 30.0
    stop_timeout: ClassVar[float] = 15.0

    def __init__(self, work: Path) -> None:
        super().__init__(work)
        self.socket = work / "podman.sock"
        self._runroot: Path | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def client(self) -> docker.DockerClient:
        """A docker SDK client of this service (the caller closes it)."""
        return docker.DockerClient(base_url=self.url)

    def stop(self) -> None:
        """Remove the containers first: they would outlive the service (conmon keeps each one running)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                with closing(self.client()) as client:
                    for container in client.containers.list(all=True):
                        container.remove(force=True)
            except DockerException:
                pass  # the service is failing anyway; stopping it is what matters now
        super().stop()
        _unmount_below(self.work)
        runroot, self._runroot = self._runroot, None
        if runroot is not None:
            _unmount_below(runroot)
            shutil.rmtree(runroot, ignore_errors=True)

    def _prepare(self) -> list[str]:
        podman = require("podman", _SETUP)
        (self.work / "containers.conf").write_text(
            _CONTAINERS_CONF.format(init=require("catatonit", _SETUP), work=self.work)
        )
        # podman 4.3's `container cleanup` refuses a runroot longer than 50 characters, and pytest's directories
        # under xdist are longer: each exit would then wait out conmon's 20 s timeout.
        self._runroot = Path(tempfile.mkdtemp(prefix="fieldhub-podman-", dir="/tmp"))
        (self.work / "storage.conf").write_text(_STORAGE_CONF.format(work=self.work, runroot=self._runroot))
        conf = {
            "CONTAINERS_CONF": str(self.work / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(self.work / "storage.conf"),
        }
        rootfs = self.work / "busybox-rootfs.tar"
        _busybox_rootfs(rootfs)
        imported = subprocess.run(
            [podman, "import", "--quiet", str(rootfs), BASE_IMAGE],
            env={**os.environ, **conf},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if imported.returncode != 0:
            raise RuntimeError(f"podman could not import {BASE_IMAGE}:\n{imported.stdout}{imported.stderr}")
        # env(1) execs podman, so the process stop() signals is podman itself.
        return [
            "env",
            *(f"{name}={value}" for name, value in conf.items()),
            podman,
            "system",
            "service",
            "--time=0",
            self.url,
        ]

    def _readiness(self) -> Callable[[], bool]:
        def answers() -> bool:
            if not self.socket.exists():
                return False
            try:
                with closing(self.client()) as client:  # negotiating the API version is the first request
                    return bool(client.ping())
            except DockerException:
                return False

        return answers


def _busybox_rootfs(path: Path) -> None:
    """A tar of ``/bin/busybox`` and a link per applet (sh, httpd, cat, ...): a whole userland in 2 MB.

    It must be busybox-static: the image holds no C library for a dynamically linked one.
    """
    busybox = require("busybox", _SETUP)
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    with tarfile.open(path, "w") as tar:
        for directory, mode in (("bin", 0o755), ("etc", 0o755), ("tmp", 0o1777)):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for applet in applets:
            if applet != "busybox":
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)


def _unmount_below(directory: Path) -> None:
    """Unmount what a crashed container or service left mounted in ``directory`` (a shm, a root filesystem).

    A mount left there would make pytest fail to delete its old temporary directories, in every later session.
    """
    prefix = f"{directory.resolve()}/"
    with Path("/proc/self/mounts").open() as table:
        # Octal escapes (\040 for a space) are left alone: pytest's paths have none.
        mounts = [line.split()[1] for line in table if line.split()[1].startswith(prefix)]
    for mount in sorted(mounts, reverse=True):  # the deepest first
        subprocess.run(["umount", mount], capture_output=True, check=False)

"""FerretDB, a MongoDB wire-protocol server on SQLite, for tests of the MongoDB store: built from Go and cached.

The Go toolchain must be on PATH; the binary is built by ``tests/helpers/build_ferretdb.py`` from the Go module
``github.com/FerretDB/FerretDB`` into ``~/.cache/fieldhub-tests/ferretdb-VERSION`` on first use (about a minute
with a cold Go module cache; see :func:`tests.helpers.servers.fetch_once`) and reused afterwards.

FerretDB 1.24 reports MongoDB 7.0 but lacks some of it: no ``$avg``/``$min``/``$max``/``$first``/``$push``
accumulators, no ``$multiply`` inside ``$group``, no transactions, time-series collections, TTL indexes or change
streams; and a ``$group`` with several accumulators answers 0 for all but the first (silently), so use one per stage.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from pathlib import Path

from tests.helpers.build_ferretdb import VERSION
from tests.helpers.ports import free_port
from tests.helpers.servers import ServerProcess, cache_root, fetch_once, require

BUILD_SCRIPT = Path(__file__).with_name("build_ferretdb.py")
BUILD_TIMEOUT = 900.0
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
NEEDS = "the FerretDB test server is built from its Go module and needs the Go toolchain (1.22+)"


def ferretdb_bin() -> Path:
    """The ``ferretdb`` executable, built on first use and cached."""
    require("go", NEEDS)

    def build(staged: Path) -> list[str]:
        return [sys.executable, str(BUILD_SCRIPT), str(staged)]

    home = cache_root() / f"ferretdb-{VERSION.removeprefix('v')}"
    return fetch_once(home, "ferretdb", build, f"FerretDB {VERSION}", BUILD_TIMEOUT) / "ferretdb"


class FerretDB(ServerProcess):
    """FerretDB with its SQLite backend on a free port, its databases in ``work/data``; stopped by its PID."""

    name = "FerretDB"
    log_name = "ferretdb.log"
    start_timeout = START_TIMEOUT
    stop_timeout = STOP_TIMEOUT

    def __init__(self, work: Path) -> None:
        super().__init__(work)
        self.port: int | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("start() FerretDB before asking for its address")
        return f"mongodb://127.0.0.1:{self.port}/"

    def _prepare(self) -> list[str]:
        binary = ferretdb_bin()
        data = self.work / "data"
        data.mkdir(exist_ok=True)
        self.port = free_port()
        return [
            str(binary),
            "--handler=sqlite",
            f"--sqlite-url=file:{data}/",  # the trailing slash makes it a directory of databases
            f"--listen-addr=127.0.0.1:{self.port}",
            f"--state-dir={self.work}",  # its state.json; the default is the working directory
            "--debug-addr=127.0.0.1:0",  # else its debug server takes port 8088, once per machine
            "--telemetry=disable",
        ]

    def _readiness(self) -> Callable[[], bool]:
        return self._listens

    def _listens(self) -> bool:
        assert self.port is not None
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

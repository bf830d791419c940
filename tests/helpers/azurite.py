"""Azurite, Microsoft's Azure Storage emulator, for tests of the Azure blob store: installed from npm and cached.

``make test-servers`` provides Node.js and npm; the ``azurite`` package itself is installed with
``npm install --prefix`` into ``~/.cache/fieldhub-tests/azurite-VERSION`` on first use (see
:func:`tests.helpers.servers.fetch_once`).
"""

from __future__ import annotations

import http.client
from collections.abc import Callable
from pathlib import Path

from tests.helpers.ports import free_port
from tests.helpers.servers import ServerProcess, cache_root, fetch_once, require

AZURITE_VERSION = "3.35.0"
INSTALL_TIMEOUT = 600.0
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, in Microsoft's docs): it protects nothing.
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
BIN = Path("node_modules") / ".bin" / "azurite-blob"
NEEDS = "the Azurite test server needs Node.js and npm (make test-servers)"


def azurite_blob_bin() -> Path:
    """The ``azurite-blob`` executable, installed from npm on first use and cached."""
    require("node", NEEDS)

    def install(staged: Path) -> list[str]:
        npm = require("npm", NEEDS)
        options = ["--no-audit", "--no-fund", "--loglevel=error"]
        return [npm, "install", "--prefix", str(staged), *options, f"azurite@{AZURITE_VERSION}"]

    home = cache_root() / f"azurite-{AZURITE_VERSION}"
    return fetch_once(home, str(BIN), install, f"azurite {AZURITE_VERSION}", INSTALL_TIMEOUT) / BIN


class Azurite(ServerProcess):
    """The blob service of Azurite on a free port, its data in ``work``; stopped by its PID."""

    name = "Azurite"
    log_name = "azurite.log"
    start_timeout = START_TIMEOUT
    stop_timeout = STOP_TIMEOUT

    def __init__(self, work: Path) -> None:
        super().__init__(work)
        self.port: int | None = None

    @property
    def connection_string(self) -> str:
        if self.port is None:
            raise RuntimeError("start() Azurite before asking for its address")
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.port}/{ACCOUNT};"
        )

    def _prepare(self) -> list[str]:
        binary = azurite_blob_bin()
        self.port = free_port()
        return [
            str(binary),
            *("--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--location", str(self.work / "data")),
            # azure-storage-blob sends API versions newer than Azurite knows; the blob operations are the same.
            *("--disableTelemetry", "--silent", "--skipApiVersionCheck"),
        ]

    def _readiness(self) -> Callable[[], bool]:
        return self._answers

    def _answers(self) -> bool:
        """Any HTTP answer (an unsigned request gets an error status) means the service is up."""
        assert self.port is not None
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
        try:
            connection.request("GET", f"/{ACCOUNT}?comp=list")
            connection.getresponse().read()
        finally:
            connection.close()
        return True

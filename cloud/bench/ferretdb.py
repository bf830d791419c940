"""A FerretDB (MongoDB wire protocol on SQLite) for a benchmark's run: the binary given, on a free port, its data in
a temporary directory. ``make bench`` passes the one the tests build (tests/helpers/ferretdb.py)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from hub.net import free_port, wait_listening

_START_TIMEOUT_S = 20.0


@asynccontextmanager
async def running_ferretdb(binary: Path) -> AsyncIterator[str]:
    """Start FerretDB ``binary`` for the block; yield its ``mongodb://`` URL."""
    port = free_port("127.0.0.1")
    with tempfile.TemporaryDirectory(prefix="fieldhub-bench-ferretdb-") as tmp:
        work = Path(tmp)
        (work / "data").mkdir()
        proc = await asyncio.create_subprocess_exec(
            str(binary),
            "--handler=sqlite",
            f"--sqlite-url=file:{work / 'data'}/",  # the trailing slash makes it a directory of databases
            f"--listen-addr=127.0.0.1:{port}",
            f"--state-dir={work}",
            "--debug-addr=127.0.0.1:0",  # else its debug server takes port 8088
            "--telemetry=disable",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            if not await wait_listening("127.0.0.1", port, lambda: proc.returncode is not None, _START_TIMEOUT_S):
                raise RuntimeError(f"FerretDB did not start on port {port}")
            yield f"mongodb://127.0.0.1:{port}/"
        finally:
            if proc.returncode is None:
                proc.terminate()
            await asyncio.wait_for(proc.wait(), 30)

"""Running a long-lived command (``up``, ``serve``) in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable


def run_until_stopped(command: str, serve: Callable[[asyncio.Event], Awaitable[int]]) -> int:
    """Run ``serve(stop)``; a signal sets ``stop``. A configuration or store error prints and exits 2."""
    from hub.errors import ConfigError, StoreUnavailable  # noqa: PLC0415 - hub dependencies load only here

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await serve(stop)

    try:
        return asyncio.run(main())
    except (ConfigError, StoreUnavailable) as exc:
        print(f"fieldhub {command}: {exc.message}", file=sys.stderr)
        return 2

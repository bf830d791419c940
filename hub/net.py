"""Ports for the servers Fieldhub starts as child processes: picking a free one, waiting until one listens."""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable


def free_port(host: str) -> int:
    """A port nobody listens on at ``host`` now (the kernel's pick)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(host: str, port: int) -> bool:
    """Whether something listens on ``host:port`` already, so that a server started there could not bind.

    Binds the way servers do (``SO_REUSEADDR``): only a listener refuses that, not connections that
    are closing. Other failures (an address not on this machine, a privileged port) are the server's
    to report.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
        return False


async def wait_listening(host: str, port: int, exited: Callable[[], bool], timeout_s: float) -> bool:
    """Whether ``host:port`` accepted a connection within ``timeout_s``; gives up early once ``exited()``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not exited():
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.02)  # polling the port, bounded by the deadline
            continue
        writer.close()
        await writer.wait_closed()
        return True
    return False

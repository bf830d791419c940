"""Free TCP ports for servers that must come back on the same port (restart and outage tests)."""

from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1 (the kernel does not hand it out again soon)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(proc: subprocess.Popen[bytes], port: int, what: str, timeout: float = 10.0) -> None:
    """Return once ``proc`` accepts connections on ``port``; fail if it exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{what} did not start on port {port}") from None
            time.sleep(0.02)  # polling a port until the server listens, bounded by the deadline

"""Ports on 127.0.0.1 for the services a node runs (``$PORT``), from ``[apps] ports``."""

from __future__ import annotations

import random
import socket
from collections import deque

from edge_agent.apps.runtime import RuntimeFailed


class PortPool:
    """Ports on 127.0.0.1 for services, from ``[apps] ports``; a port something else holds is skipped."""

    def __init__(self, low: int, high: int) -> None:
        self._free = deque(range(low, high + 1))
        # Start anywhere in the range: agents sharing a machine (give them ranges of their own) rarely collide.
        self._free.rotate(random.randrange(len(self._free)))  # noqa: S311 - not a secret
        self._taken: set[int] = set()

    def take(self) -> int:
        for _ in range(len(self._free)):
            port = self._free.popleft()
            if bindable(port):
                self._taken.add(port)
                return port
            self._free.append(port)
        raise RuntimeFailed("no free port left in [apps] ports for the service")

    def release(self, port: int) -> None:
        if port in self._taken:
            self._taken.discard(port)
            self._free.append(port)


def bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True

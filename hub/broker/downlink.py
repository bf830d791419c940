"""The hub's way down to devices, for the components the broker itself needs in order to start.

The broker hands what devices send to the router, and the router to the state, command and
presence services; those in turn publish through the broker. One of them must exist first: the
services are built with a :class:`Downlink`, complete from the start, and the composition root
connects it to the broker once the broker runs. A publish made before then waits for it.
"""

from __future__ import annotations

import asyncio

from hub.broker.base import Publisher


class Downlink:
    """A :class:`Publisher` that publishes through the broker it is connected to."""

    def __init__(self) -> None:
        self._broker: Publisher | None = None
        self._connected = asyncio.Event()

    def connect(self, broker: Publisher) -> None:
        """Publish through ``broker`` (running) from now on."""
        self._broker = broker
        self._connected.set()

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        await self._connected.wait()
        assert self._broker is not None
        await self._broker.publish(topic, payload, qos=qos, retain=retain)

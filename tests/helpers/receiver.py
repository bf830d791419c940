"""A local HTTP endpoint taking JSON POSTs, as a webhook's receiver would (event webhooks, alarm channels)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web


class Receiver:
    """Answers each POST with the next of ``statuses`` (the last one for ever).

    With ``hold``, each request waits for it first: an endpoint that takes connections but never answers.
    """

    def __init__(self, statuses: list[int], hold: asyncio.Event | None = None) -> None:
        self.statuses = statuses
        self.hold = hold
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.delivered: asyncio.Queue[tuple[dict[str, str], bytes]] = asyncio.Queue()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append((dict(request.headers), body))
        if self.hold is not None:
            await self.hold.wait()
        status = self.statuses[min(len(self.requests), len(self.statuses)) - 1]
        if status < 300:
            self.delivered.put_nowait((dict(request.headers), body))
        return web.Response(status=status)


@asynccontextmanager
async def receiver(
    statuses: list[int], *, port: int = 0, hold: asyncio.Event | None = None
) -> AsyncIterator[tuple[Receiver, str]]:
    """A :class:`Receiver` on 127.0.0.1 (``port`` 0: a free one) and its URL."""
    endpoint = Receiver(statuses, hold)
    app = web.Application()
    app.router.add_post("/hook", endpoint.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    try:
        yield endpoint, f"http://127.0.0.1:{bound}/hook"
    finally:
        if hold is not None:
            hold.set()  # let held requests end, so the server stops at once
        await runner.cleanup()

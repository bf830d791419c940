"""An ASGI app served by uvicorn inside a composition root's lifetime, on a socket bound up front."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from contextlib import AsyncExitStack

import uvicorn
from fastapi import FastAPI

from hub.errors import ConfigError
from hub.tasks import Background


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the process owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY on accepted connections only then; without it every
    # request on a kept-alive connection waited out a delayed ACK (about 40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen for HTTP on {host}:{port}: {exc.strerror}") from exc
    sock.listen(512)
    sock.setblocking(False)
    return sock


async def serve_http(stack: AsyncExitStack, app: FastAPI, host: str, port: int) -> int:
    """Serve ``app`` on ``host:port`` (0 picks a free port) until ``stack`` closes; return the bound port."""
    sock = _bind(host, port)
    stack.callback(sock.close)
    # httptools named: "auto" falls back to h11 (several times slower) without a word if it is missing.
    config = uvicorn.Config(
        app, http="httptools", log_config=None, lifespan="off", access_log=False, timeout_graceful_shutdown=5
    )
    server = _Server(config)
    background = Background()
    await background.open()
    stack.push_async_callback(background.close)
    task = background.spawn(server.serve(sockets=[sock]), name="http-server")

    async def stop() -> None:
        server.should_exit = True
        await task  # a graceful stop first; the background's close cancels it should it hang

    stack.push_async_callback(stop)
    while not server.started:
        if task.done():
            await task
            raise ConfigError("the HTTP server stopped during start-up")
        await asyncio.sleep(0.01)  # uvicorn has no start event; bounded by the task ending
    bound: int = sock.getsockname()[1]
    return bound

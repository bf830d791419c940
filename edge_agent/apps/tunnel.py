"""The node's end of the app-link tunnel: it dials the hub, the hub's requests come back through it.

:class:`TunnelClient` keeps one WebSocket open to ``{api_url}/api/v1/nodes/{device_id}/tunnel`` (HTTP Basic
with the node's MQTT username and password; ``wss://`` checked against the configured CA file), reconnecting
forever with capped, jittered exponential backoff. The node never listens: it works behind NAT.

The hub opens streams on it (:mod:`contracts.tunnel`); for each ``OPEN`` the client asks ``resolve`` for the
local port of that instance's service, connects to ``127.0.0.1:port`` and pipes bytes both ways, honouring
the per-stream windows: it reads from the app only while the hub has credit for it, and grants credit only
for bytes the app's socket took (so a slow app or a slow client holds at most a window per stream here).

It offers the subprotocol :data:`contracts.tunnel.SUBPROTOCOL`; when the hub accepts it, what the streams send
in one loop iteration goes out as one batch message (fewer writes and WebSocket frames under load).

This is the only module of the agent that imports ``websockets``; the agent imports it only when it runs apps.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import ssl
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.typing import Subprotocol

from contracts.tunnel import (
    INITIAL_WINDOW,
    MAX_BATCH,
    MAX_DATA,
    SUBPROTOCOL,
    Frame,
    FrameError,
    FrameType,
    OpenRequest,
    ReceiveWindow,
    close_frame,
    credit_of,
    decode,
    encode,
    pack,
    parse_open,
    split,
    window_frame,
)

log = logging.getLogger(__name__)

#: ``(deployment, replica, service)`` -> the service's port on 127.0.0.1, ``None`` if not on this node.
Resolve = Callable[[str, int, str], int | None]
#: Seconds to connect to an app's port on the node's loopback.
CONNECT_TIMEOUT_S = 5.0
#: Seconds between log lines about failing to reach the hub (the failures go on being retried).
LOG_EVERY_S = 60.0


class TunnelClient:
    """The node's tunnel to the hub; :meth:`run` until cancelled."""

    def __init__(
        self,
        api_url: str,
        device_id: str,
        secret: str,
        ca_file: Path | None,
        resolve: Resolve,
        *,
        backoff_min_s: float = 0.5,
        backoff_max_s: float = 30.0,
    ) -> None:
        base = api_url.rstrip("/")
        scheme, _, rest = base.partition("://")
        self.url = f"{'wss' if scheme == 'https' else 'ws'}://{rest}/api/v1/nodes/{device_id}/tunnel"
        self._auth = "Basic " + base64.b64encode(f"{device_id}:{secret}".encode()).decode()
        self._ssl = ssl.create_default_context(cafile=ca_file) if scheme == "https" else None
        self._resolve = resolve
        self._backoff = (backoff_min_s, backoff_max_s)
        #: Set while the tunnel is connected (for tests and status).
        self.connected = asyncio.Event()
        self._logged_at = -LOG_EVERY_S

    async def run(self) -> None:
        """Connect, serve, and reconnect after every failure, forever."""
        delay = self._backoff[0]
        while True:
            try:
                async with connect(
                    self.url,
                    additional_headers={"Authorization": self._auth},
                    ssl=self._ssl,
                    compression=None,  # app bytes are often compressed already; the CPU is better spent
                    max_size=MAX_BATCH,
                    subprotocols=[Subprotocol(SUBPROTOCOL)],
                    open_timeout=10,
                    ping_interval=20,
                    ping_timeout=20,
                ) as ws:
                    delay = self._backoff[0]
                    log.info("app tunnel to %s open", self.url)
                    self.connected.set()
                    await _Session(ws, self._resolve).serve()
                self._failed("the hub closed the app tunnel")
            except InvalidStatus as exc:
                self._failed(f"the hub refused the app tunnel: HTTP {exc.response.status_code}")
            except (OSError, TimeoutError, WebSocketException) as exc:
                self._failed(f"app tunnel to {self.url} failed: {type(exc).__name__}: {exc}")
            finally:
                self.connected.clear()
            await asyncio.sleep(random.uniform(delay / 2, delay))  # noqa: S311 - jitter, not a secret
            delay = min(delay * 2, self._backoff[1])

    def _failed(self, message: str) -> None:
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY_S:
            self._logged_at = now
            log.warning("%s; retrying", message)


class _Session:
    """One connection: the streams the hub opened on it."""

    def __init__(self, ws: ClientConnection, resolve: Resolve) -> None:
        self._ws = ws
        self._resolve = resolve
        self._streams: dict[int, _Stream] = {}
        self._logged_at = -LOG_EVERY_S
        #: Batching: the frames waiting for the writer, their bytes, and the events it and the senders wait on.
        self._batches = ws.subprotocol == SUBPROTOCOL
        self._outbox: list[bytes] = []
        self._outbox_bytes = 0
        self._queued = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._gone = False

    async def send(self, frame: bytes) -> None:
        """Send a frame, or queue it for the writer (which waits once :data:`MAX_BATCH` bytes are queued)."""
        if not self._batches:
            await self._ws.send(frame)
            return
        if self._gone:
            return  # the connection is gone: the session and its streams are ending
        self._outbox.append(frame)
        self._outbox_bytes += len(frame)
        self._queued.set()
        while self._outbox_bytes >= MAX_BATCH and not self._gone:
            self._room.clear()
            await self._room.wait()

    async def _write(self) -> None:
        try:
            while True:
                await self._queued.wait()
                self._queued.clear()
                frames, self._outbox, self._outbox_bytes = self._outbox, [], 0
                self._room.set()
                for message in pack(frames):
                    await self._ws.send(message)
        except ConnectionClosed:
            pass  # the receive loop ends too
        finally:
            self._gone = True
            self._room.set()

    async def serve(self) -> None:
        """Dispatch the hub's frames until the connection closes; every stream ends with it."""
        async with asyncio.TaskGroup() as group:
            writer = group.create_task(self._write(), name="tunnel-writer") if self._batches else None
            try:
                async for message in self._ws:
                    if isinstance(message, str):
                        self._protocol_error("a text message")
                        continue
                    try:
                        frames = split(message)
                    except FrameError as exc:
                        self._protocol_error(exc.message)
                        continue
                    for frame in frames:
                        self._dispatch(frame, group)
            except ConnectionClosed:
                pass
            finally:
                if writer is not None:
                    writer.cancel()
                for stream in list(self._streams.values()):
                    stream.cancel()

    def _dispatch(self, message: bytes, group: asyncio.TaskGroup) -> None:
        try:
            frame = decode(message)
            if frame.type is FrameType.OPEN:
                request = parse_open(frame)
        except FrameError as exc:
            self._protocol_error(exc.message)
            if exc.stream is not None and exc.stream in self._streams:
                self._streams[exc.stream].abort(f"protocol error: {exc.message}")
            return
        if frame.type is FrameType.OPEN:
            if frame.stream in self._streams:
                self._streams[frame.stream].abort("protocol error: OPEN of an open stream")
                return
            stream = _Stream(self, frame.stream)
            self._streams[frame.stream] = stream
            stream.task = group.create_task(stream.run(request), name=f"tunnel-stream-{frame.stream}")
            return
        found = self._streams.get(frame.stream)
        if found is not None:
            found.frame(frame)

    def forget(self, stream_id: int) -> None:
        self._streams.pop(stream_id, None)

    def resolve(self, request: OpenRequest) -> int | None:
        return self._resolve(request.deployment, request.replica, request.service)

    def _protocol_error(self, what: str) -> None:
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY_S:
            self._logged_at = now
            log.warning("app tunnel: frame dropped: %s", what)


class _Stream:
    """One stream: a TCP connection to an app's port, piped to and from the hub."""

    def __init__(self, session: _Session, stream_id: int) -> None:
        self._session = session
        self.id = stream_id
        self.task: asyncio.Task[None] | None = None
        self._send_window = INITIAL_WINDOW
        self._writable = asyncio.Event()
        self._receive = ReceiveWindow()
        self._inbound: deque[bytes] = deque()
        self._readable = asyncio.Event()
        self._eof_received = False
        self._abort_reason: str | None = None

    def cancel(self) -> None:
        """End the stream without a word to the hub (it closed the stream, or the connection is gone)."""
        if self.task is not None:
            self.task.cancel()

    def abort(self, reason: str) -> None:
        """End the stream and tell the hub why (the CLOSE is sent as the stream's task ends)."""
        self._abort_reason = reason
        self.cancel()

    def frame(self, frame: Frame) -> None:
        kind = frame.type
        if kind is FrameType.DATA:
            if self._eof_received or not self._receive.received(len(frame.payload)):
                self.abort("protocol error: DATA beyond the window or after EOF")
                return
            self._inbound.append(frame.payload)
            self._readable.set()
        elif kind is FrameType.WINDOW:
            self._send_window += credit_of(frame)
            self._writable.set()
        elif kind is FrameType.EOF:
            self._eof_received = True
            self._readable.set()
        elif kind is FrameType.CLOSE:
            self.cancel()
        else:
            self.abort(f"protocol error: {kind.name} from the hub")

    async def run(self, request: OpenRequest) -> None:
        try:
            reason = await self._serve(request)
        except asyncio.CancelledError:
            if self._abort_reason is None:
                return  # closed by the hub, or the connection is gone: nothing to tell
            reason = self._abort_reason
        except ConnectionClosed:
            return  # the session ends, and every stream with it
        finally:
            self._session.forget(self.id)
        with contextlib.suppress(ConnectionClosed):
            await self._session.send(close_frame(self.id, reason))

    async def _serve(self, request: OpenRequest) -> str:
        """Pipe until both sides are done; the CLOSE reason."""
        port = self._session.resolve(request)
        if port is None:
            return "no such instance on this node"
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            return f"cannot connect to the app's port {port}: {exc.strerror or type(exc).__name__}"
        try:
            await self._session.send(encode(FrameType.OPENED, self.id))
            down = asyncio.ensure_future(self._to_app(writer))
            try:
                up_reason = await self._to_hub(reader)
                return up_reason or await down
            finally:
                down.cancel()
                await asyncio.gather(down, return_exceptions=True)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _to_hub(self, reader: asyncio.StreamReader) -> str:
        """App -> hub, within the hub's window; a reason if it broke off."""
        while True:
            while self._send_window <= 0:
                self._writable.clear()
                await self._writable.wait()
            try:
                data = await reader.read(min(self._send_window, MAX_DATA))
            except OSError as exc:
                return f"the app's connection failed: {exc.strerror or type(exc).__name__}"
            if not data:
                await self._session.send(encode(FrameType.EOF, self.id))
                return ""
            await self._session.send(encode(FrameType.DATA, self.id, data))
            self._send_window -= len(data)

    async def _to_app(self, writer: asyncio.StreamWriter) -> str:
        """Hub -> app, granting credit for what the app's socket took; a reason if it broke off."""
        while True:
            while not self._inbound:
                if self._eof_received:
                    with contextlib.suppress(OSError):
                        if writer.can_write_eof():
                            writer.write_eof()
                    return ""
                self._readable.clear()
                await self._readable.wait()
            chunk = self._inbound.popleft()
            try:
                writer.write(chunk)
                await writer.drain()
            except OSError as exc:
                return f"the app's connection failed: {exc.strerror or type(exc).__name__}"
            credit = self._receive.consumed(len(chunk))
            if credit:
                await self._session.send(window_frame(self.id, credit))

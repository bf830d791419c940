"""The nodes' tunnels connected to this hub process, and byte streams to their apps through them.

A node's agent dials the hub and keeps one WebSocket open (:mod:`contracts.tunnel` has the wire format); the
API hands the accepted socket to :meth:`Tunnels.serve`, which keeps it for the node until it drops. A newer
tunnel of the same node replaces the older one, which is closed (an agent that reconnected before the hub
noticed the old connection die must not be shadowed by it).

:meth:`Tunnels.open_stream` opens a :class:`Stream` to one service of an instance on a node: ``read``,
``write``, ``write_eof`` and ``close``, with the protocol's per-stream flow control (a reader that stops
reading stops its sender after one window; the other streams go on).

Frames are dispatched synchronously from the one receive loop of each tunnel: it never waits for a slow
stream, so a stream's bytes wait in that stream's buffer (at most a window) and nowhere else. When the node
reads batches (:data:`contracts.tunnel.SUBPROTOCOL`), the frames the streams send are queued and one writer
task sends what gathered in a loop iteration as one message (at most :data:`~contracts.tunnel.MAX_BATCH`
bytes queue up: senders wait beyond that).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from typing import Protocol

from contracts.errors import ErrorCode, FieldhubError
from contracts.tunnel import (
    INITIAL_WINDOW,
    MAX_BATCH,
    MAX_DATA,
    Frame,
    FrameError,
    FrameType,
    OpenRequest,
    ReceiveWindow,
    close_frame,
    credit_of,
    decode,
    encode,
    open_frame,
    pack,
    split,
    window_frame,
)
from hub.logutil import RateLimitedLog
from hub.metrics import Metrics

log = logging.getLogger(__name__)

#: Seconds a node has to answer an ``OPEN`` (it connects to a port on its own loopback).
OPEN_TIMEOUT_S = 10.0
#: WebSocket close code sent to a tunnel replaced by a newer one of the same node.
REPLACED = 4000


class TunnelError(FieldhubError):
    """A stream could not be opened or broke off."""

    code = ErrorCode.UNAVAILABLE


class NoTunnel(TunnelError):
    """The node has no tunnel to this hub process."""


class StreamRefused(TunnelError):
    """The node refused to open a stream (no such instance, nothing listening) or did not answer in time."""


class StreamBroken(TunnelError):
    """The stream was closed by the other side, or its tunnel went away."""


class Socket(Protocol):
    """The accepted WebSocket, as the tunnel uses it (the API adapts its framework's socket to this)."""

    async def receive(self) -> bytes | None:
        """The next binary message; ``None`` once the connection is closed."""

    async def send(self, data: bytes) -> None:
        """Send one binary message (raises once the connection is closed)."""

    async def close(self, code: int, reason: str) -> None:
        """Close the connection (nothing happens if it is closed already)."""


class Stream:
    """One byte stream to a service on a node, opened by :meth:`Tunnels.open_stream`."""

    def __init__(self, tunnel: Tunnel, stream_id: int) -> None:
        self.tunnel = tunnel
        self.id = stream_id
        self._opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buffer: deque[bytes] = deque()
        self._readable = asyncio.Event()
        self._receive = ReceiveWindow()
        self._eof_received = False
        self._send_window = INITIAL_WINDOW
        self._writable = asyncio.Event()
        self._eof_sent = False
        #: Why the stream ended (``None`` while open): the peer's CLOSE reason or ours.
        self.closed: str | None = None

    @property
    def at_eof(self) -> bool:
        """Whether the peer sent EOF and every byte before it was read."""
        return self._eof_received and not self._buffer

    async def read(self, max_bytes: int = MAX_DATA) -> bytes:
        """Up to ``max_bytes`` of the stream (waiting for some); ``b""`` after the peer's EOF.

        Raises:
            StreamBroken: the stream was closed before the peer's EOF.
        """
        while not self._buffer:
            if self._eof_received:
                return b""
            if self.closed is not None:
                raise StreamBroken(f"stream closed: {self.closed}")
            self._readable.clear()
            await self._readable.wait()
        chunk = self._buffer.popleft()
        if len(chunk) > max_bytes:
            self._buffer.appendleft(chunk[max_bytes:])
            chunk = chunk[:max_bytes]
        credit = self._receive.consumed(len(chunk))
        if credit and self.closed is None:
            await self.tunnel.send(window_frame(self.id, credit))
        return chunk

    async def write(self, data: bytes) -> None:
        """Send ``data``, waiting for the peer's credit whenever its window is used up.

        Raises:
            StreamBroken: the stream or its tunnel closed meanwhile.
        """
        view = memoryview(data)
        while view:
            while self._send_window <= 0:
                if self.closed is not None:
                    raise StreamBroken(f"stream closed: {self.closed}")
                self._writable.clear()
                await self._writable.wait()
            if self.closed is not None:
                raise StreamBroken(f"stream closed: {self.closed}")
            size = min(len(view), self._send_window, MAX_DATA)
            await self.tunnel.send(encode(FrameType.DATA, self.id, bytes(view[:size])))
            self._send_window -= size
            view = view[size:]

    async def write_eof(self) -> None:
        """Tell the peer no more data comes from this side (it may still send)."""
        if self._eof_sent or self.closed is not None:
            return
        self._eof_sent = True
        await self.tunnel.send(encode(FrameType.EOF, self.id))

    async def close(self, reason: str = "") -> None:
        """End the stream for both sides (an abort if data is still flowing); idempotent."""
        if self.closed is not None:
            return
        self._ended(reason or "closed")
        with contextlib.suppress(StreamBroken):  # the tunnel is gone, and the stream with it
            await self.tunnel.send(close_frame(self.id, reason))

    # Called by the tunnel's receive loop.

    def _ended(self, reason: str) -> None:
        self.closed = reason
        self.tunnel.forget(self.id)
        if not self._opened.done():
            self._opened.set_exception(StreamRefused(reason or "the node closed the stream"))
            self._opened.exception()  # retrieved here: nobody may be waiting any more
        self._readable.set()
        self._writable.set()

    def _frame(self, frame: Frame) -> str | None:
        """Apply a frame from the node; a reason to abort the stream if it broke the protocol."""
        kind = frame.type
        if kind is FrameType.DATA:
            if self._eof_received or not self._receive.received(len(frame.payload)):
                return "DATA beyond the window or after EOF"
            self._buffer.append(frame.payload)
            self._readable.set()
        elif kind is FrameType.WINDOW:
            self._send_window += credit_of(frame)
            self._writable.set()
        elif kind is FrameType.EOF:
            self._eof_received = True
            self._readable.set()
        elif kind is FrameType.OPENED:
            if self._opened.done():
                return "OPENED twice"
            self._opened.set_result(None)
        elif kind is FrameType.CLOSE:
            self._ended(frame.payload.decode() or "closed by the node")
        else:
            return f"{kind.name} from a node"
        return None


class Tunnel:
    """One node's connection: its streams and the loop that dispatches the frames it receives."""

    def __init__(
        self, node: str, socket: Socket, open_timeout_s: float = OPEN_TIMEOUT_S, *, batches: bool = False
    ) -> None:
        self.node = node
        self._socket = socket
        self._open_timeout_s = open_timeout_s
        self._streams: dict[int, Stream] = {}
        self._ids = itertools.count(1)
        self._closed = False
        self._log = RateLimitedLog(log, 60.0)
        #: Batching: the frames waiting for the writer, their bytes, and the events it and the senders wait on.
        self._batches = batches
        self._outbox: list[bytes] = []
        self._outbox_bytes = 0
        self._queued = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    @property
    def closed(self) -> bool:
        return self._closed

    async def send(self, message: bytes) -> None:
        """Send one frame (or queue it for the writer); :class:`StreamBroken` once the tunnel is closed."""
        if self._closed:
            raise StreamBroken(f"the tunnel of node {self.node} closed")
        if self._batches:
            self._outbox.append(message)
            self._outbox_bytes += len(message)
            self._queued.set()
            while self._outbox_bytes >= MAX_BATCH and not self._closed:
                self._room.clear()
                await self._room.wait()
            return
        try:
            await self._socket.send(message)
        except Exception as exc:  # the framework's "closed" errors differ; each means the same here
            self._closed = True
            raise StreamBroken(f"the tunnel of node {self.node} closed") from exc

    async def _write(self) -> None:
        """Send the queued frames, as few messages as they fit in, until the connection fails."""
        try:
            while True:
                await self._queued.wait()
                self._queued.clear()
                frames, self._outbox, self._outbox_bytes = self._outbox, [], 0
                self._room.set()
                for message in pack(frames):
                    await self._socket.send(message)
        except Exception:  # noqa: BLE001 - the framework's "closed" errors differ; the receive loop ends too
            self._closed = True
            self._room.set()

    def forget(self, stream_id: int) -> None:
        self._streams.pop(stream_id, None)

    async def open(self, request: OpenRequest) -> Stream:
        """Open a stream to ``request``'s service; :class:`StreamRefused` if the node says no or is silent."""
        stream_id = next(self._ids) & 0xFFFFFFFF or next(self._ids)
        stream = Stream(self, stream_id)
        self._streams[stream_id] = stream
        await self.send(open_frame(stream_id, request))
        try:
            await asyncio.wait_for(asyncio.shield(stream._opened), self._open_timeout_s)
        except TimeoutError:
            await stream.close("no answer to OPEN")
            raise StreamRefused(f"node {self.node} did not open the stream within {self._open_timeout_s:g}s") from None
        except StreamRefused as exc:
            raise StreamRefused(f"node {self.node} refused the stream: {exc.message}") from None
        return stream

    async def run(self) -> None:
        """Receive and dispatch frames until the connection closes; then every stream breaks off."""
        try:
            async with asyncio.TaskGroup() as group:
                writer = group.create_task(self._write(), name=f"tunnel-writer-{self.node}") if self._batches else None
                try:
                    while (message := await self._socket.receive()) is not None:
                        await self._receive(message)
                finally:
                    if writer is not None:
                        writer.cancel()
        finally:
            self._closed = True
            self._room.set()
            for stream in list(self._streams.values()):
                stream._ended(f"the tunnel of node {self.node} closed")

    async def close(self, code: int, reason: str) -> None:
        """Close the connection (its :meth:`run` then ends)."""
        self._closed = True
        await self._socket.close(code, reason)

    async def _receive(self, message: bytes) -> None:
        try:
            frames = split(message)
        except FrameError as exc:
            self._log.warning(f"frame:{self.node}", "tunnel of node %s: batch dropped: %s", self.node, exc.message)
            return
        for frame in frames:
            await self._dispatch(frame)

    async def _dispatch(self, message: bytes) -> None:
        try:
            frame = decode(message)
        except FrameError as exc:
            self._log.warning(f"frame:{self.node}", "tunnel of node %s: frame dropped: %s", self.node, exc.message)
            if exc.stream is not None and exc.stream in self._streams:
                await self._abort(self._streams[exc.stream], exc.message)
            return
        stream = self._streams.get(frame.stream)
        if stream is None:
            return  # a frame in flight as we closed the stream
        problem = stream._frame(frame)
        if problem is not None:
            self._log.warning(f"proto:{self.node}", "tunnel of node %s: stream aborted: %s", self.node, problem)
            await self._abort(stream, problem)

    async def _abort(self, stream: Stream, reason: str) -> None:
        stream._ended(reason)
        with contextlib.suppress(StreamBroken):
            await self.send(close_frame(stream.id, f"protocol error: {reason}"))


class Tunnels:
    """The tunnels of the nodes connected to this process, by node id."""

    def __init__(self, metrics: Metrics, open_timeout_s: float = OPEN_TIMEOUT_S) -> None:
        self._metrics = metrics
        self._open_timeout_s = open_timeout_s
        self._by_node: dict[str, Tunnel] = {}

    def get(self, node: str) -> Tunnel | None:
        """The node's open tunnel, if it has one to this process."""
        tunnel = self._by_node.get(node)
        return None if tunnel is None or tunnel.closed else tunnel

    async def serve(self, node: str, socket: Socket, *, batches: bool = False) -> None:
        """Keep ``socket`` as ``node``'s tunnel until it closes, replacing (and closing) an older one.

        ``batches``: the node negotiated :data:`contracts.tunnel.SUBPROTOCOL` (it reads batches).
        """
        tunnel = Tunnel(node, socket, self._open_timeout_s, batches=batches)
        older = self._by_node.get(node)
        self._by_node[node] = tunnel
        self._metrics.app_tunnels_open.inc()
        log.info("tunnel of node %s open", node)
        try:
            if older is not None:
                await older.close(REPLACED, "replaced by a newer tunnel of the node")
            await tunnel.run()
        finally:
            self._metrics.app_tunnels_open.dec()
            if self._by_node.get(node) is tunnel:
                del self._by_node[node]
            log.info("tunnel of node %s closed", node)

    async def open_stream(self, node: str, deployment: str, replica: int, service: str) -> Stream:
        """A stream to ``service`` of ``deployment``'s replica on ``node``.

        Raises:
            NoTunnel: the node has no tunnel to this process.
            StreamRefused: the node refused or did not answer within the open timeout.
        """
        tunnel = self.get(node)
        if tunnel is None:
            raise NoTunnel(f"node {node} has no tunnel to this hub")
        try:
            return await tunnel.open(OpenRequest(deployment, replica, service))
        except StreamBroken as exc:
            raise NoTunnel(exc.message) from None

"""The app link's HTTP/1.1: requests written to a running instance over a tunnel stream, answers relayed back.

Request and response bodies stream through (the tunnel's flow control bounds what is buffered). A stream whose
exchange ended cleanly is kept for the next request to the same instance (keep-alive): opening a stream costs
a round trip to the node and a TCP connect there. The request head is written here (its headers come from the
hub's HTTP server, which parsed them already); the answers are parsed with httptools (C): h11 cost more than
the rest of the proxy put together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import NoReturn

import httptools

from contracts.errors import ErrorCode
from hub.links.routing import HOP_BY_HOP, LinkRefused, Receive, Router, Scope, Send, Target
from hub.links.tunnels import Stream, TunnelError
from hub.logutil import RateLimitedLog

log = logging.getLogger(__name__)

#: Idle kept-alive streams per instance.
MAX_IDLE = 64
#: Largest response head (status line and headers) accepted from an app.
MAX_HEAD = 64 * 1024


class _Conn:
    """A stream carrying HTTP/1.1 to one instance, and the parser of the app's answers on it.

    The parser's callbacks (``on_*``) collect one answer at a time; :meth:`LinkProxy._respond` feeds it.
    """

    __slots__ = (
        "body",
        "complete",
        "head_bytes",
        "headers",
        "informational",
        "keep_alive",
        "key",
        "parser",
        "request_done",
        "reused",
        "started",
        "status",
        "stream",
        "trailing",
    )

    def __init__(self, stream: Stream, key: tuple[str, str, int, str]) -> None:
        self.stream = stream
        self.key = key
        self.reused = False
        self.parser = httptools.HttpResponseParser(self)
        self.next_cycle()

    def next_cycle(self) -> None:
        """Forget the last exchange (the stream is kept for the next request)."""
        self.request_done = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.head_bytes = 0
        self.started = self.complete = self.informational = self.keep_alive = self.trailing = False

    def on_message_begin(self) -> None:
        self.trailing = self.trailing or self.complete  # bytes after the answer: the stream is not reused

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value.rstrip(b" \t")))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # 100 Continue and the like: not relayed, the answer follows
            self.informational = True
            self.headers = []
            return
        self.status = status
        self.started = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.informational:
            self.informational = False
            return
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()

    def until_eof(self) -> bool:
        """Whether the answer's body ends where the stream does (neither a length nor chunks)."""
        if self.status in (204, 304):
            return False
        for name, value in self.headers:
            if name == b"content-length":
                return False
            if name == b"transfer-encoding" and value.rsplit(b",", 1)[-1].strip().lower() == b"chunked":
                return False
        return True


class HttpForwarder:
    """Sends requests to instances and relays their answers; keeps idle streams per instance."""

    def __init__(self, router: Router) -> None:
        self._router = router
        self._idle: dict[tuple[str, str, int, str], list[_Conn]] = {}
        self._log = RateLimitedLog(log, 60.0)

    async def _conn(self, target: Target) -> _Conn:
        deployment, node, replica = target.instance
        key = (deployment, node, replica, target.service)
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if conn.stream.closed is None and not conn.stream.at_eof and not conn.stream.tunnel.closed:
                conn.reused = True
                return conn
            await conn.stream.close()
        return _Conn(await self._router.connect(target), key)

    async def _release(self, conn: _Conn) -> None:
        if conn.request_done and conn.complete and conn.keep_alive and not conn.trailing and conn.stream.closed is None:
            conn.next_cycle()
            idle = self._idle.setdefault(conn.key, [])
            if len(idle) < MAX_IDLE:
                idle.append(conn)
                return
        await conn.stream.close()

    async def forward(self, scope: Scope, receive: Receive, send: Send, target: Target) -> None:
        first = await receive()
        body: bytes = first.get("body", b"")
        streamed = bool(first.get("more_body"))
        headers = target.headers
        chunked = False
        if not any(name == b"content-length" for name, _ in headers):
            if streamed:
                headers, chunked = [*headers, (b"transfer-encoding", b"chunked")], True
            elif body:  # a chunked upload that arrived whole
                headers = [*headers, (b"content-length", str(len(body)).encode())]
        method: str = scope["method"]
        request = _request_head(method, target.path, headers)
        if body:
            request += _chunk(body) if chunked else body
        head_only, more = method == "HEAD", receive if streamed else None
        for attempt in (1, 2):
            conn = await self._conn(target)
            try:
                await self._exchange(conn, request, send, head_only=head_only, more=more, chunked=chunked)
            except _Retry:
                # A kept-alive stream the app had closed meanwhile: nothing reached the app, ask a fresh one.
                await conn.stream.close()
                if attempt == 2 or streamed:
                    raise LinkRefused(502, ErrorCode.UNAVAILABLE, "the app closed the connection") from None
            except BaseException:
                await conn.stream.close()
                raise
            else:
                return

    async def _exchange(
        self, conn: _Conn, request: bytes, send: Send, *, head_only: bool, more: Receive | None, chunked: bool
    ) -> None:
        stream = conn.stream
        try:
            await stream.write(request)
        except TunnelError:
            raise _Retry from None
        # A streamed body goes on while the answer comes back (an app may answer before reading it all).
        pump = None
        if more is None:
            conn.request_done = True
        else:
            pump = asyncio.ensure_future(_pump(conn, more, chunked))
        try:
            await self._respond(conn, head_only, send)
        finally:
            if pump is not None:
                pump.cancel()  # the app answered without reading all of it: the stream is not reused
                await asyncio.gather(pump, return_exceptions=True)
        await self._release(conn)

    async def _respond(self, conn: _Conn, head_only: bool, send: Send) -> None:
        stream = conn.stream
        started = heard = False
        while True:
            try:
                data = await stream.read()
            except TunnelError as exc:
                self._broken(conn, started, heard, exc.message)
            heard = heard or bool(data)
            self._feed(conn, data, started, heard)
            if not started:
                if not conn.started:
                    continue
                headers = [(name, value) for name, value in conn.headers if name not in HOP_BY_HOP]
                await send({"type": "http.response.start", "status": conn.status, "headers": headers})
                started = True
                if head_only:  # no body follows, whatever the headers say; the parser cannot tell
                    conn.complete, conn.keep_alive = True, False
            chunks, conn.body = conn.body, []
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            if conn.complete:
                await send({"type": "http.response.body", "body": b"" if head_only else body, "more_body": False})
                return
            if body:
                await send({"type": "http.response.body", "body": body, "more_body": True})

    def _feed(self, conn: _Conn, data: bytes, started: bool, heard: bool) -> None:
        """Parse the next bytes of the answer (``b""``: the stream's end)."""
        if data:
            try:
                conn.parser.feed_data(data)
            except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
                self._broken(conn, started, heard, f"its answer is not HTTP/1.1: {exc}")
            if not conn.started:
                conn.head_bytes += len(data)
                if conn.head_bytes > MAX_HEAD:
                    self._broken(conn, started, heard, "its answer is not HTTP/1.1: the head is too large")
        elif started and conn.until_eof():
            conn.complete, conn.keep_alive = True, False  # the body ran to the end of the stream
        elif not heard:
            self._broken(conn, started, heard, "it closed the connection before answering")
        else:
            self._broken(conn, started, heard, "its answer is not HTTP/1.1: it ended part-way")

    def _broken(self, conn: _Conn, started: bool, heard: bool, why: str) -> NoReturn:
        if started:
            # The status is out: the only way left to tell the client is to cut its connection.
            raise ConnectionAbortedError(f"the app's answer broke off: {why}")
        if conn.reused and not heard:
            raise _Retry
        self._log.warning(f"502:{conn.key[0]}", "link to deployment %s: the app failed: %s", conn.key[0], why)
        raise LinkRefused(502, ErrorCode.UNAVAILABLE, f"the app did not answer: {why}")


class _Retry(Exception):
    """A kept-alive stream failed before the app saw the request."""


async def _pump(conn: _Conn, receive: Receive, chunked: bool) -> None:
    """The rest of a streamed request body, from the client to the app (ends quietly if either goes)."""
    with contextlib.suppress(TunnelError):  # the app closed the stream: its answer (or none) tells the client
        await _pump_body(conn, receive, chunked)


async def _pump_body(conn: _Conn, receive: Receive, chunked: bool) -> None:
    stream = conn.stream
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            await stream.close("the client went away")
            return
        chunk: bytes = message.get("body", b"")
        out = (_chunk(chunk) if chunked else chunk) if chunk else b""
        if not message.get("more_body"):
            await stream.write(out + b"0\r\n\r\n" if chunked else out)
            conn.request_done = True
            return
        if out:
            await stream.write(out)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


def _request_head(method: str, path: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    """The request line and headers as HTTP/1.1 bytes.

    The hub's HTTP server parsed the client's request already, so its parts hold no line breaks; the count
    checks that nothing (a header the hub added included) could smuggle in another line.

    Raises:
        LinkRefused: a line break or NUL in the method, the path or a header (400).
    """
    parts = [method.encode("latin-1"), b" ", path, b" HTTP/1.1\r\n"]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    head = b"".join(parts)
    lines = len(headers) + 2
    if head.count(b"\n") != lines or head.count(b"\r") != lines or b"\0" in head:
        raise LinkRefused(400, ErrorCode.INVALID_REQUEST, "a line break in the request line or a header")
    return head

"""WebSockets through the app link: the client's socket (ASGI) relayed to the app over a tunnel stream.

The hub opens a stream to the instance, does the WebSocket client handshake with the app over it (websockets'
sans-I/O :class:`~websockets.client.ClientProtocol`: no socket of its own, the stream carries its bytes),
accepts the client's socket only once the app accepted (with the subprotocol the app chose), and then relays
messages both ways until either side closes; the other side is then closed with the same code.
"""

from __future__ import annotations

import asyncio
import logging

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidURI
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from contracts.errors import ErrorCode
from hub.links.routing import LinkRefused, Receive, Router, Scope, Send, Target
from hub.links.tunnels import Stream, TunnelError

log = logging.getLogger(__name__)

#: Largest message relayed from the app (the client side's limit is the hub's WebSocket setting).
MAX_MESSAGE = 16 * 1024 * 1024
#: Headers the handshake sets itself, or that only concern the hop between client and hub.
_OWN = frozenset(
    {b"host", b"sec-websocket-key", b"sec-websocket-version", b"sec-websocket-extensions", b"sec-websocket-protocol"}
)


async def relay(router: Router, scope: Scope, receive: Receive, send: Send, target: Target) -> None:
    """Relay one WebSocket of the link; refusals before the handshake answer as the HTTP link does."""
    try:
        stream = await router.connect(target)
    except LinkRefused as refused:
        await router.refuse_websocket(send, scope, refused)
        return
    try:
        shaken = await _handshake(stream, scope, target)
        if shaken is None:
            failed = LinkRefused(502, ErrorCode.UNAVAILABLE, "the app refused the WebSocket handshake")
            await router.refuse_websocket(send, scope, failed)
            return
        protocol, response, early = shaken
        await send({"type": "websocket.accept", "subprotocol": response.headers.get("Sec-WebSocket-Protocol")})
        await _both_ways(protocol, stream, receive, send, early)
    finally:
        await stream.close()


async def _handshake(
    stream: Stream, scope: Scope, target: Target
) -> tuple[ClientProtocol, Response, list[Frame]] | None:
    """The client side of the handshake over ``stream``; ``None`` if the app refused or broke off."""
    host = next((v for n, v in target.headers if n == b"host"), b"app").decode("latin-1")
    try:
        uri = parse_uri(f"ws://{host}{target.path.decode('latin-1')}")
    except InvalidURI:
        return None
    subprotocols = [Subprotocol(p) for p in scope.get("subprotocols", [])] or None
    protocol = ClientProtocol(uri, subprotocols=subprotocols, max_size=MAX_MESSAGE)
    request = protocol.connect()
    for name, value in target.headers:
        if name not in _OWN:
            request.headers[name.decode("latin-1")] = value.decode("latin-1")
    protocol.send_request(request)
    response: Response | None = None
    early: list[Frame] = []
    try:
        await _flush(protocol, stream)
        while response is None:
            data = await stream.read()
            if not data:
                return None
            protocol.receive_data(data)
            for event in protocol.events_received():
                if isinstance(event, Response):
                    response = event
                elif isinstance(event, Frame):
                    early.append(event)  # a message the app sent right after its answer
    except TunnelError:
        return None
    if protocol.handshake_exc is not None or protocol.state is not State.OPEN:
        return None
    return protocol, response, early


async def _flush(protocol: ClientProtocol, stream: Stream) -> None:
    for chunk in protocol.data_to_send():
        if chunk:
            await stream.write(chunk)
        else:
            await stream.write_eof()


async def _both_ways(
    protocol: ClientProtocol, stream: Stream, receive: Receive, send: Send, early: list[Frame]
) -> None:
    """Relay until one side closes; the other direction is then cancelled."""
    up = asyncio.ensure_future(_client_to_app(protocol, stream, receive))
    down = asyncio.ensure_future(_app_to_client(protocol, stream, send, early))
    try:
        await asyncio.wait((up, down), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (up, down):
            task.cancel()
        for outcome in await asyncio.gather(up, down, return_exceptions=True):
            if isinstance(outcome, Exception) and not isinstance(outcome, TunnelError | OSError):
                log.warning("app link WebSocket relay failed: %r", outcome)


async def _client_to_app(protocol: ClientProtocol, stream: Stream, receive: Receive) -> None:
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.receive":
            if message.get("text") is not None:
                protocol.send_text(message["text"].encode())
            else:
                protocol.send_binary(message.get("bytes") or b"")
            await _flush(protocol, stream)
        elif kind == "websocket.disconnect":
            code = message.get("code", 1000)
            protocol.send_close(code if 1000 <= code < 5000 and code not in (1005, 1006, 1015) else 1000)
            await _flush(protocol, stream)
            return


async def _app_to_client(protocol: ClientProtocol, stream: Stream, send: Send, early: list[Frame]) -> None:
    parts: list[bytes] = []
    text = False
    frames, data = early, b"-"
    while True:
        for frame in frames:
            if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
                text, parts = frame.opcode is Opcode.TEXT, [bytes(frame.data)]
            elif frame.opcode is Opcode.CONT:
                parts.append(bytes(frame.data))
            elif frame.opcode is Opcode.CLOSE:
                close = Close.parse(bytes(frame.data)) if frame.data else Close(1000, "")
                await _flush(protocol, stream)
                await send({"type": "websocket.close", "code": _client_code(close.code), "reason": close.reason})
                return
            else:
                continue  # ping and pong: answered by the protocol itself
            if frame.fin:
                payload = b"".join(parts)
                parts = []
                message = (
                    {"type": "websocket.send", "text": payload.decode()}
                    if text
                    else {"type": "websocket.send", "bytes": payload}
                )
                await send(message)
        await _flush(protocol, stream)
        if not data:
            await send({"type": "websocket.close", "code": 1011, "reason": "the app closed the connection"})
            return
        data = await stream.read()
        if data:
            protocol.receive_data(data)
        else:
            protocol.receive_eof()
        frames = [event for event in protocol.events_received() if isinstance(event, Frame)]


def _client_code(code: int) -> int:
    # 1005/1006/1015 are never sent on the wire.
    return 1000 if code in (1005, 1006, 1015) else code

"""fieldhub_sdk: what an app running on a Fieldhub node uses to reach its sensors, outputs and actuators.

Standard library only, and importable in every app the node runs (the node puts it on ``PYTHONPATH``). It talks
to the agent on the same node over a Unix socket (``FIELDHUB_SDK_SOCKET``, with the app's own token in
``FIELDHUB_SDK_TOKEN``), so readings keep coming while the node has no link to the hub.

- ``latest(bind)``: the newest reading of the sensor the app binds as ``bind`` (or of an input), as
  ``{"ts", "value", "key", "sensor", "node"}``, or ``None`` when there is none yet;
- ``readings(bind)``: an iterator over new readings as they arrive (blocks between them);
- ``publish(name, value)``: an app output; it reaches the hub as telemetry key ``{app}:{name}`` through the
  node's spool (nothing is lost while the node is cut off) and every input it is wired to;
- ``command(bind, name, params)``: a command to the actuator bound as ``bind`` (``"write"``, ``{"value": ...}``).

Each call raises :class:`SdkError` with the agent's reason when it refuses (an unknown bind name, say). The
functions are safe to call from several threads: each thread keeps a connection of its own.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["SdkError", "command", "latest", "publish", "readings"]

_local = threading.local()


class SdkError(Exception):
    """The agent refused a request, or cannot be reached; the message says why."""


def latest(bind: str) -> dict[str, Any] | None:
    """The newest reading of the sensor (or input) bound as ``bind``; ``None`` when there is none yet."""
    result: dict[str, Any] | None = _call({"op": "latest", "bind": bind})
    return result


def readings(bind: str) -> Iterator[dict[str, Any]]:
    """New readings of ``bind`` as they arrive; a reading may carry ``dropped`` (readings lost to a slow reader)."""
    conn = _connect()
    try:
        stream = conn.makefile("rb")
        _send(conn, {"op": "readings", "bind": bind})
        _answer(stream.readline())
        while line := stream.readline():
            yield json.loads(line)
        raise SdkError("the agent closed the stream of readings (it is stopping)")
    finally:
        conn.close()


def publish(name: str, value: float | bool | str) -> dict[str, Any]:
    """Send output ``name``; returns ``{"key", "ts"}`` of the telemetry it becomes."""
    result: dict[str, Any] = _call({"op": "publish", "name": name, "value": value})
    return result


def command(bind: str, name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Command the actuator bound as ``bind``; returns what the agent did."""
    result: dict[str, Any] = _call({"op": "command", "bind": bind, "name": name, "params": params or {}})
    return result


def _call(request: dict[str, Any]) -> Any:
    # One retry on a fresh connection: the agent may have restarted since this thread's last call.
    for attempt in (1, 2):
        conn = getattr(_local, "conn", None)
        if conn is None:
            conn = _local.conn = _connect()
            _local.stream = conn.makefile("rb")
        try:
            _send(conn, request)
            line = _local.stream.readline()
            if not line:
                raise ConnectionResetError("the agent closed the connection")
        except OSError:
            conn.close()
            _local.conn = None
            if attempt == 2:
                raise SdkError("lost the connection to the node's agent") from None
            continue
        return _answer(line)
    raise AssertionError("unreachable")


def _connect() -> socket.socket:
    path = os.environ.get("FIELDHUB_SDK_SOCKET")
    if not path:
        raise SdkError("FIELDHUB_SDK_SOCKET is not set: fieldhub_sdk works in apps a Fieldhub node runs")
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError as exc:
        conn.close()
        raise SdkError(f"cannot reach the node's agent at {path}: {exc.strerror}") from None
    return conn


def _send(conn: socket.socket, request: dict[str, Any]) -> None:
    request["token"] = os.environ.get("FIELDHUB_SDK_TOKEN", "")
    conn.sendall(json.dumps(request).encode() + b"\n")


def _answer(line: bytes) -> Any:
    if not line:
        raise SdkError("the node's agent closed the connection")
    answer = json.loads(line)
    if not answer.get("ok"):
        raise SdkError(answer.get("error", "refused"))
    return answer.get("result")

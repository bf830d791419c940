"""The agent's side of ``fieldhub_sdk``: a Unix socket the node's apps ask for readings, outputs and commands.

Readings come from the agent's own sensors on the node (:class:`ReadingTap` sees every reading the sensors
emit, before the spool), so apps keep getting them while the node has no cloud link. Outputs go into the
spool like readings, so nothing is lost while the node is cut off, and to the inputs they are wired to.

Each service gets a token of its own (``FIELDHUB_SDK_TOKEN``); the token decides which sensors, actuators,
inputs and outputs it may use, so one app cannot read another's sensors through the socket. The socket is
the agent user's alone (mode 0600).

The protocol is JSON lines: a request ``{"token", "op", ...}`` gets one answer ``{"ok": true, "result": ...}``
or ``{"ok": false, "error": "..."}``; ``op = "readings"`` turns the connection into a stream of readings, one
object per line, until the client closes it. Operations:

- ``latest`` ``{"bind"}``: the newest reading of the bound sensors (or input), ``None`` when there is none yet;
- ``readings`` ``{"bind"}``: readings as they arrive (a slow reader loses the oldest, counted in ``dropped``);
- ``publish`` ``{"name", "value"}``: an output, to the hub as telemetry key ``{app}:{name}`` and to its wires;
- ``command`` ``{"bind", "name", "params"}``: a command to the bound actuators (``write`` with ``value``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from contracts.telemetry import SENSOR_KEY_PATTERN, Value
from device_drivers.base import DriverError
from edge_agent.sensors import SensorSet, now_ms

log = logging.getLogger(__name__)
Reading = tuple[str, Value, int]
#: Readings waiting for one ``readings`` stream; beyond it the oldest are dropped.
STREAM_QUEUE = 1000
_MAX_REQUEST = 64 * 1024
_KEY_RE = re.compile(SENSOR_KEY_PATTERN)


@dataclass(slots=True)
class Grant:
    """What one service of one instance may use, by bind name."""

    app: str
    service: str
    sensors: dict[str, list[str]]
    actuators: dict[str, list[str]]
    inputs: set[str] = field(default_factory=set)
    #: Output name -> the tap sources (:func:`input_source`) of the inputs it is wired to.
    wires: dict[str, list[str]] = field(default_factory=dict)
    token: str = ""


def input_source(token: str, input_: str) -> str:
    """The tap's name for an input of the service holding ``token`` (sensor names never contain a colon)."""
    return f"input:{token}:{input_}"


class SdkError(Exception):
    """A request the SDK server refuses; the message goes back to the app."""


class _Stream:
    """One ``readings`` subscriber: a bounded queue of reading documents."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(STREAM_QUEUE)
        self.dropped = 0

    def offer(self, doc: dict[str, Any]) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(doc)


class ReadingTap:
    """The newest reading of every sensor and input, and the streams waiting for new ones."""

    def __init__(self, node: str) -> None:
        self._node = node
        self._latest: dict[str, dict[str, Any]] = {}
        self._streams: dict[str, set[_Stream]] = {}

    def offer(self, source: str, readings: Sequence[Reading], sensor: str | None = None) -> None:
        """Readings of a sensor or input: keep the newest, hand each to its streams.

        Args:
            source: The sensor's name, or an input's :func:`input_source`.
            readings: ``(key, value, ts)`` tuples.
            sensor: What the readings' documents name as their ``sensor`` (default: ``source``).
        """
        streams = self._streams.get(source)
        for key, value, ts in readings:
            doc = {"ts": ts, "value": value, "key": key, "sensor": sensor or source, "node": self._node}
            current = self._latest.get(source)
            if current is None or ts >= current["ts"]:
                self._latest[source] = doc
            if streams:
                for stream in streams:
                    stream.offer(doc)

    def latest(self, sources: Sequence[str]) -> dict[str, Any] | None:
        found = [self._latest[s] for s in sources if s in self._latest]
        return max(found, key=lambda doc: doc["ts"]) if found else None

    @contextlib.contextmanager
    def stream(self, sources: Sequence[str]) -> Any:
        subscriber = _Stream()
        for source in sources:
            self._streams.setdefault(source, set()).add(subscriber)
        try:
            yield subscriber
        finally:
            for source in sources:
                self._streams[source].discard(subscriber)
                if not self._streams[source]:
                    del self._streams[source]


Spool = Callable[[Sequence[Reading]], Awaitable[None]]


class SdkServer:
    """Serves the SDK socket; :meth:`grant` and :meth:`revoke` follow the services the node runs."""

    def __init__(self, path: Path, tap: ReadingTap, spool: Spool, sensors: Callable[[], SensorSet]) -> None:
        self.path = path
        self._tap = tap
        self._spool = spool
        self._sensors = sensors
        self._grants: dict[str, Grant] = {}
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[Any]] = set()

    def grant(self, grant: Grant) -> str:
        """A new token for ``grant`` (kept in ``grant.token``); the service gets it in ``FIELDHUB_SDK_TOKEN``."""
        grant.token = secrets.token_urlsafe(24)
        self._grants[grant.token] = grant
        return grant.token

    def revoke(self, token: str) -> None:
        self._grants.pop(token, None)

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)
        old = os.umask(0o177)  # the socket is created 0600, never briefly open to others
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=_MAX_REQUEST)
        finally:
            os.umask(old)

    async def close(self) -> None:
        """Stop listening and end every connection (a stream of readings waits for readings, not for the app)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        self.path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while line := await reader.readline():
                try:
                    grant, request = self._parse(line)
                    if request.get("op") == "readings":
                        await self._stream(grant, request, reader, writer)
                        return
                    answer = {"ok": True, "result": await self._answer(grant, request)}
                except SdkError as exc:
                    answer = {"ok": False, "error": str(exc)[:1000]}
                writer.write(orjson.dumps(answer) + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # the app went away or sent a line over the limit: its connection ends, nothing else does
        finally:
            self._connections.discard(task)
            writer.close()

    def _parse(self, line: bytes) -> tuple[Grant, dict[str, Any]]:
        try:
            request = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise SdkError("a request is one line of JSON") from None
        if not isinstance(request, dict):
            raise SdkError("a request is a JSON object")
        grant = self._grants.get(str(request.get("token")))
        if grant is None:
            raise SdkError("unknown token: is FIELDHUB_SDK_TOKEN the one this node gave the app?")
        return grant, request

    async def _answer(self, grant: Grant, request: dict[str, Any]) -> Any:
        op = request.get("op")
        if op == "latest":
            return self._tap.latest(self._sources(grant, request.get("bind")))
        if op == "publish":
            return await self._publish(grant, request.get("name"), request.get("value"))
        if op == "command":
            return await self._command(grant, request)
        raise SdkError(f"unknown op {op!r}; known: latest, readings, publish, command")

    def _sources(self, grant: Grant, bind: Any) -> list[str]:
        if isinstance(bind, str):
            if bind in grant.sensors:
                return grant.sensors[bind]
            if bind in grant.inputs:
                return [input_source(grant.token, bind)]
        known = sorted([*grant.sensors, *grant.inputs]) or ["none"]
        raise SdkError(f"no sensor or input bound as {bind!r}; this app has: {', '.join(known)}")

    async def _stream(
        self, grant: Grant, request: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        sources = self._sources(grant, request.get("bind"))
        writer.write(orjson.dumps({"ok": True, "result": None}) + b"\n")
        # The app sends nothing more on a stream: the read ends when it hangs up, and so does the stream.
        hangup = asyncio.ensure_future(reader.read())
        try:
            with self._tap.stream(sources) as subscriber:
                while True:
                    next_doc = asyncio.ensure_future(subscriber.queue.get())
                    await asyncio.wait((next_doc, hangup), return_when=asyncio.FIRST_COMPLETED)
                    if not next_doc.done():
                        next_doc.cancel()
                        return
                    doc = next_doc.result()
                    if subscriber.dropped:
                        doc = {**doc, "dropped": subscriber.dropped}
                        subscriber.dropped = 0
                    writer.write(orjson.dumps(doc) + b"\n")
                    await writer.drain()
        finally:
            hangup.cancel()

    async def _publish(self, grant: Grant, name: Any, value: Any) -> dict[str, Any]:
        if not isinstance(name, str) or not name:
            raise SdkError("publish needs a name")
        if isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, bool | float | str):
            raise SdkError("an output value is a number, a boolean or a string")
        if isinstance(value, str) and len(value) > 256:
            raise SdkError("a string output is at most 256 characters")
        key = f"{grant.app}:{name}"
        if _KEY_RE.fullmatch(key) is None:
            raise SdkError(f"output key {key!r} is not a valid telemetry key (up to 64 of [A-Za-z0-9_.:-])")
        ts = now_ms()
        await self._spool([(key, value, ts)])
        for source in grant.wires.get(name, []):
            self._tap.offer(source, [(key, value, ts)], sensor=f"{grant.service}.{name}")
        return {"key": key, "ts": ts}

    async def _command(self, grant: Grant, request: dict[str, Any]) -> dict[str, Any]:
        bind, name, params = request.get("bind"), request.get("name"), request.get("params") or {}
        if not isinstance(bind, str) or bind not in grant.actuators:
            known = ", ".join(sorted(grant.actuators)) or "none"
            raise SdkError(f"no actuator bound as {bind!r}; this app has: {known}")
        if name != "write" or not isinstance(params, dict) or "value" not in params:
            raise SdkError("the command is 'write' with params {'value': ...}")
        runners = self._sensors().runners
        written = []
        for actuator in grant.actuators[bind]:
            runner = runners.get(actuator)
            if runner is None:
                raise SdkError(f"actuator {actuator!r} is no longer on this node")
            try:
                await runner.driver.write(params["value"])
            except DriverError as exc:
                raise SdkError(f"{actuator}: {exc.message}") from None
            written.append(actuator)
        return {"written": written, "value": params["value"]}

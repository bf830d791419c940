"""Many device connections from a few processes: the load of ``fieldhub bench connections``.

A thread or a paho client per device would not hold tens of thousands of connections on two
cores, so each worker process drives its share of devices as bare asyncio protocols, using the
hub's own MQTT 3.1.1 packets (:mod:`hub.broker.mosquitto.packets`): CONNECT with the device's
credentials, PUBLISH at QoS 1 with each PUBACK counted, PINGREQ when a connection is idle, and
DISCONNECT at the end.

Limits a worker works around: its open files (one per connection; the soft limit is raised to the
hard one) and the ephemeral ports of one source address (about 28,000 from 32768-60999 towards one
broker port): every worker binds its connections to a loopback address of its own (127.0.0.2,
127.0.0.3, ...) and holds at most :data:`PER_WORKER` of them.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import multiprocessing as mp
import resource
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event

from cloud.bench.cload import Device
from cloud.bench.load import payload
from hub.broker.mosquitto import packets
from hub.broker.reasons import describe_connack

#: Connections one worker holds at most: well within one source address's ports and a worker's open files.
PER_WORKER = 10_000
#: Connection attempts under way at once in one worker: more only overflow the broker's listen backlog.
_CONNECTING = 256
#: Seconds to wait for the acknowledgements still due once publishing stops.
_DRAIN_S = 30.0
#: Linux: bind a source address without taking a port until connect (which may reuse one per destination).
_IP_BIND_ADDRESS_NO_PORT = 24


def source_address(worker: int) -> str:
    """The loopback address worker ``worker`` connects from (127.0.0.2 upwards)."""
    if worker > 250:
        raise ValueError("at most 251 workers (one loopback address each)")
    return f"127.0.0.{worker + 2}"


def raise_open_files() -> int:
    """Raise this process's soft limit of open files to its hard limit (children inherit it); return it."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """One worker's share: its devices (a wrong password for ``bad`` of them), where and how to publish."""

    host: str
    port: int
    source: str
    devices: list[Device]
    bad: frozenset[str]
    interval_s: float
    duration_s: float
    keepalive_s: int
    connect_timeout_s: float


@dataclass(slots=True)
class Tally:
    """What one worker saw; ``add`` sums the workers'."""

    connected: int = 0
    refused: int = 0
    #: Connections that got no CONNACK within the timeout (a broker out of open files leaves them in its backlog).
    unanswered: int = 0
    #: Connection errors by name (ECONNREFUSED, EADDRNOTAVAIL, EMFILE, ...) and refusals by CONNACK text.
    errors: Counter[str] = field(default_factory=Counter)
    #: Connections the broker closed while held.
    dropped: int = 0
    published: int = 0
    acked: int = 0
    first_attempt: float = float("inf")
    last_connack: float = 0.0

    def add(self, other: Tally) -> None:
        self.connected += other.connected
        self.refused += other.refused
        self.unanswered += other.unanswered
        self.errors.update(other.errors)
        self.dropped += other.dropped
        self.published += other.published
        self.acked += other.acked
        self.first_attempt = min(self.first_attempt, other.first_attempt)
        self.last_connack = max(self.last_connack, other.last_connack)


class _Connection(asyncio.Protocol):
    """One device's connection: answers the CONNACK future, counts PUBACKs."""

    def __init__(self, tally: Tally, device: Device, drained: asyncio.Event) -> None:
        self.connack: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.last_sent = time.monotonic()
        self._tally = tally
        self._topic = f"devices/{device.device_id}/telemetry"
        self._reader = packets.Reader()
        self._inflight: set[int] = set()
        self._seq = 0
        self._drained = drained
        self._held = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        for packet in self._reader.feed(data):
            if not isinstance(packet, packets.Control):
                continue  # devices here subscribe to nothing
            if packet.kind == packets.CONNACK and not self.connack.done():
                self.connack.set_result(packet.body[1])
            elif packet.kind == packets.PUBACK:
                packet_id = packets.packet_id_of(packet.body)
                if packet_id in self._inflight:
                    self._inflight.remove(packet_id)
                    self._tally.acked += 1
                    if self._tally.acked == self._tally.published:
                        self._drained.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.connack.done():
            self.connack.set_exception(ConnectionResetError(errno.ECONNRESET, "closed before CONNACK"))
        elif self._held:
            self._tally.dropped += 1

    def hold(self) -> None:
        self._held = True

    def send(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)
            self.last_sent = time.monotonic()

    def publish(self) -> None:
        if self.transport is None:
            return
        packet_id = self._seq % 0xFFFF + 1
        self._inflight.add(packet_id)
        self.send(packets.publish(self._topic, payload(self._seq, 1), qos=1, retain=False, packet_id=packet_id))
        self._seq += 1
        self._tally.published += 1
        self._drained.clear()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        self._held = False  # closed by the device, not dropped by the broker
        if self.transport is not None:
            self.send(packets.DISCONNECT_PACKET)
            self.transport.close()


class _Worker:
    def __init__(self, spec: WorkerSpec) -> None:
        self._spec = spec
        self.tally = Tally()
        self._drained = asyncio.Event()
        self._held: list[_Connection] = []

    async def connect_all(self) -> None:
        window = asyncio.Semaphore(_CONNECTING)

        async def one(device: Device) -> None:
            async with window:
                await self._connect(device)

        async with asyncio.TaskGroup() as tasks:
            for device in self._spec.devices:
                tasks.create_task(one(device))

    async def _connect(self, device: Device) -> None:
        spec, tally = self._spec, self.tally
        loop = asyncio.get_running_loop()
        tally.first_attempt = min(tally.first_attempt, time.monotonic())
        sock = conn = code = None
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_IP, _IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((spec.source, 0))
            async with asyncio.timeout(spec.connect_timeout_s):
                await loop.sock_connect(sock, (spec.host, spec.port))
                _, conn = await loop.create_connection(lambda: _Connection(tally, device, self._drained), sock=sock)
                sock = None  # the transport owns it now
                password = f"wrong-{device.password}" if device.device_id in spec.bad else device.password
                conn.send(
                    packets.connect(device.device_id, device.device_id, password, spec.keepalive_s, clean_session=True)
                )
                code = await conn.connack
        except TimeoutError:
            tally.unanswered += 1
            return
        except OSError as exc:
            tally.errors[errno.errorcode.get(exc.errno or 0, type(exc).__name__)] += 1
            return
        finally:
            if sock is not None:
                sock.close()
            if conn is not None and code is None:
                conn.abort()  # no answer: not held
        if code != 0:
            tally.refused += 1
            tally.errors[describe_connack(code)] += 1
            conn.close()
            return
        tally.connected += 1
        tally.last_connack = max(tally.last_connack, time.monotonic())
        conn.hold()
        self._held.append(conn)

    async def keep_alive(self) -> None:
        """PINGREQ on every connection idle for half its keepalive (while waiting for the go, or between publishes)."""
        half = self._spec.keepalive_s / 2
        while True:
            await asyncio.sleep(half / 4)  # a sweep, not a wait on an event: idleness is a matter of time
            idle_since = time.monotonic() - half
            for conn in self._held:
                if conn.last_sent < idle_since:
                    conn.send(packets.PINGREQ_PACKET)

    async def publish(self) -> None:
        """Each connection publishes every interval, their turns spread evenly over it; then wait for the PUBACKs."""
        spec, held = self._spec, self._held
        loop = asyncio.get_running_loop()
        start = loop.time()
        end = start + spec.duration_s
        for turn in itertools.count() if held else ():
            round_, k = divmod(turn, len(held))
            due = start + (round_ + k / len(held)) * spec.interval_s
            if due >= end:
                break
            delay = due - loop.time()
            if delay > 0.002:
                await asyncio.sleep(delay)  # pacing the load
            held[k].publish()
        if self.tally.acked < self.tally.published:
            try:
                async with asyncio.timeout(_DRAIN_S):
                    await self._drained.wait()
            except TimeoutError:
                pass  # what is still unacknowledged is reported as such

    def disconnect(self) -> None:
        for conn in self._held:
            conn.close()


async def _work(spec: WorkerSpec, said: mp.Queue[Tally | str], go: Event) -> None:
    worker = _Worker(spec)
    await worker.connect_all()
    said.put(worker.tally)
    async with asyncio.TaskGroup() as tasks:
        pinging = tasks.create_task(worker.keep_alive(), name="keepalive")
        await asyncio.to_thread(go.wait)
        await worker.publish()
        pinging.cancel()
    worker.disconnect()
    # The DISCONNECTs are written out as the loop turns once more.
    await asyncio.sleep(0)
    said.put(worker.tally)


def _work_in_child(spec: WorkerSpec, said: mp.Queue[Tally | str], go: Event) -> None:
    try:
        raise_open_files()
        asyncio.run(_work(spec, said, go))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        said.put(f"load worker {spec.source} failed: {exc!r}")


class Swarm:
    """The worker processes: :meth:`connect` holds every connection, :meth:`publish` runs the timed load."""

    def __init__(self, specs: list[WorkerSpec]) -> None:
        ctx = mp.get_context("spawn")
        self._go = ctx.Event()
        self._said: mp.Queue[Tally | str] = ctx.Queue()
        self._procs = [ctx.Process(target=_work_in_child, args=(s, self._said, self._go), daemon=True) for s in specs]
        self._timeout_s = max(600.0, max((s.duration_s for s in specs), default=0.0) + 2 * _DRAIN_S)

    def _collect(self) -> Tally:
        total = Tally()
        for _ in self._procs:
            said = self._said.get(timeout=self._timeout_s)
            if isinstance(said, str):
                raise RuntimeError(said)  # noqa: TRY004 - a worker's error message, not a type error
            total.add(said)
        return total

    def connect(self) -> Tally:
        """Start the workers; return once each has tried all its connections (blocking: call off the loop)."""
        for proc in self._procs:
            proc.start()
        return self._collect()

    def publish(self) -> Tally:
        """Let every held connection publish for the duration; the final counts once all disconnected (blocking)."""
        self._go.set()
        total = self._collect()
        for proc in self._procs:
            proc.join(30)
        return total

    def stop(self) -> None:
        """Kill workers still running (after a failure)."""
        for proc in self._procs:
            if proc.is_alive():
                proc.kill()
                proc.join(5)

"""The production topology as processes: Mosquitto, two API processes, an ingest replica, FerretDB and Tansu.

A device publishes numbered readings (QoS 1) through Mosquitto into the shared subscription of the three hub
processes; the first API process, which leads (leases ``leader`` and ``streams``), is killed with SIGKILL in the
middle and not restarted. Mosquitto keeps routing a share of the readings to the dead process's persistent
session until the new leader takes that session over (hub/broker/mosquitto/sessions.py), stores what it held and
unsubscribes it. Every reading is stored exactly once (its ``seq``) and reaches the Kafka topic at least once, the
other API process takes over both leases, and a live stream (SSE) opened on it shows every reading published
after the kill. Before the kill, the two API processes
configured with the same stream forward each batch once between them (the ``streams`` lease).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path

import orjson
import pytest

from cloud.streams import LEASE as STREAMS_LEASE
from hub.broker.mosquitto.sessions import PREFIX as SESSION_LEASE
from hub.leader import LEASE as LEADER_LEASE
from hub.store.backend import Backend
from hub.store.factory import open_store
from tests.helpers.ferretdb import FerretDB
from tests.helpers.hub import Api
from tests.helpers.kafka_topic import read_records, seqs_of
from tests.helpers.mosquitto import SERVICE_PASSWORD, SERVICE_USER, ExternalMosquitto
from tests.helpers.mqtt import TestDevice
from tests.helpers.process import HubProcess, cli_env
from tests.helpers.tansu import TansuBroker
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.timeout(150), pytest.mark.slow]

SECRET_KEY = "a-signing-key-every-api-process-shares-0123456789"
#: A short lease, so the failover fits the test: the survivor leads within ttl + renew (5 s).
LEASE_ENV = {"FIELDHUB_LEADER__TTL_S": "4", "FIELDHUB_LEADER__RENEW_S": "1"}
#: Readings stored before the kill, and published after the survivor took over.
BEFORE_KILL = 60
AFTER_TAKEOVER = 60


@pytest.fixture
def store_url(ferretdb: FerretDB) -> str:
    return f"{ferretdb.url}topology_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Backend]:
    """The shared store, opened by the test too: it sees who holds the leases."""
    backend = open_store(store_url)
    await backend.database.open()
    yield backend
    await backend.database.close()


def start_role(role: str, replica_id: str, data: Path, store: str, broker: int, stream: str) -> HubProcess:
    """``fieldhub serve --role <role>`` on the shared store and broker (the API processes also on ``stream``)."""
    command = [sys.executable, "-m", "cloud.cli.main", "serve", "--role", role, "--replica-id", replica_id]
    command += ["--broker", f"mqtt://127.0.0.1:{broker}", "--store", store, "--data-dir", str(data / replica_id)]
    extra = {}
    if role == "api":
        command += ["--http-port", "0"]
        extra = {"FIELDHUB_STREAM": stream, "FIELDHUB_SECRET_KEY": SECRET_KEY}
    env = cli_env(
        FIELDHUB_MOSQUITTO__USERNAME=SERVICE_USER, FIELDHUB_MOSQUITTO__PASSWORD=SERVICE_PASSWORD, **LEASE_ENV, **extra
    )
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    process = HubProcess(proc, "", broker)
    process.follow()
    if role == "api":
        process.url = process.wait_for_line(f"API process {replica_id} is up: ", 60).split()[5]
    else:
        process.wait_for_line(f"Ingest replica {replica_id} is up", 60)
    return process


@contextlib.contextmanager
def stopped_at_the_end() -> Iterator[dict[str, HubProcess]]:
    started: dict[str, HubProcess] = {}
    try:
        yield started
    finally:
        for process in started.values():
            if process.proc.poll() is None:
                process.stop()


async def holder(store: Backend, lease: str) -> str | None:
    """The replica id of the process holding ``lease`` (holders are named ``<replica id>-<random>``)."""
    held = await store.leases.holder(lease, time.time_ns() // 1_000_000)
    return None if held is None else held.holder.rsplit("-", 1)[0]


async def leads(store: Backend, replica_id: str) -> bool:
    return await holder(store, LEADER_LEASE) == replica_id and await holder(store, STREAMS_LEASE) == replica_id


class Publisher:
    """A device publishing readings numbered 0, 1, 2, ... with QoS 1 in a thread, until stopped."""

    def __init__(self, device: TestDevice, device_id: str) -> None:
        self._device = device
        self._topic = f"devices/{device_id}/telemetry"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start_ms = time.time_ns() // 1_000_000
        self.sent = 0  # acknowledged by Mosquitto

    def _run(self) -> None:
        while not self._stop.is_set():
            seq = self.sent
            body = {"ts": self._start_ms + seq, "values": {"n": seq}, "seq": seq}
            self._device.publish(self._topic, orjson.dumps(body), qos=1)
            self.sent += 1
            self._stop.wait(0.01)  # a pace, not a wait for anything: some 80 readings a second

    def __enter__(self) -> Publisher:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        assert not self._thread.is_alive(), "the device stopped publishing"


async def adopted(store: Backend, replica_id: str) -> bool:
    """Whether the leader took the session of ``replica_id`` over and forgot its lease."""
    lease = SESSION_LEASE + f"fieldhub-{replica_id}"
    now = int(time.time() * 1000)
    return await store.leases.holder(lease, now) is None and not await store.leases.lapsed(lease, now)


async def stored(api: Api, device_id: str) -> list[int]:
    """The readings of ``device_id`` as stored, by their number."""
    answer = await api.http.get(f"/api/v1/devices/{device_id}/telemetry", params={"key": "n", "limit": 100_000})
    assert answer.status_code == 200, answer.text
    return [int(point["value"]) for point in answer.json()["points"]]


async def at_least(api: Api, device_id: str, count: int) -> list[int] | None:
    found = await stored(api, device_id)
    return found if len(found) >= count else None


async def seqs_live(lines: AsyncIterator[str], seen: set[int], grew: asyncio.Event) -> None:
    """Collect the reading numbers a live stream (SSE) shows."""
    async for line in lines:
        if line.startswith("data: "):
            seen.update(int(reading["value"]) for reading in orjson.loads(line[6:])["readings"])
            grew.set()


async def test_a_device_reads_through_the_topology_and_a_killed_api_process_loses_nothing(
    tmp_path: Path, broker: ExternalMosquitto, store_url: str, store: Backend, kafka: TansuBroker, unique_id: str
) -> None:
    pattern = f"topology-{uuid.uuid4().hex[:8]}.{{tenant}}"
    stream = f"kafka://{kafka.bootstrap}?topic={pattern}"
    began = time.monotonic()
    with stopped_at_the_end() as processes:
        start = partial(start_role, data=tmp_path, store=store_url, broker=broker.port, stream=stream)
        processes["api-1"] = await asyncio.to_thread(start, "api", "api-1")
        await eventually(lambda: leads(store, "api-1"), what="the first API process leading")
        processes["api-2"] = await asyncio.to_thread(start, "api", "api-2")
        processes["ingest-1"] = await asyncio.to_thread(start, "ingest", "ingest-1")
        print(f"topology up in {time.monotonic() - began:.1f} s")

        api_1, api_2 = await Api.login(processes["api-1"].url), await Api.login(processes["api-2"].url)
        try:
            created = await api_1.create_device(unique_id)
            topic = pattern.format(tenant=created["tenant"])
            device = await asyncio.to_thread(
                TestDevice(broker.port, unique_id, created["credentials"]["password"]).connect
            )
            seen_live: set[int] = set()
            grew = asyncio.Event()
            async with (
                api_2.http.stream("GET", f"/api/v1/devices/{unique_id}/live") as live,
                asyncio.TaskGroup() as tasks,
            ):
                assert live.status_code == 200
                lines = live.aiter_lines()
                assert await anext(lines) == ": connected"
                watching = tasks.create_task(seqs_live(lines, seen_live, grew))
                with Publisher(device, unique_id) as publisher:
                    await eventually(partial(at_least, api_2, unique_id, BEFORE_KILL), within=30, what="readings")
                    # One forwarder between the two API processes: each batch once on the topic.
                    early = await asyncio.to_thread(
                        read_records, kafka.bootstrap, topic, lambda found: len(found) >= BEFORE_KILL, 30
                    )
                    early_seqs = seqs_of(early)
                    assert len(early_seqs) == len(set(early_seqs)), f"forwarded twice: {sorted(early_seqs)}"

                    processes["api-1"].stop(signal.SIGKILL)
                    killed, killed_at = time.monotonic(), publisher.sent
                    await eventually(lambda: leads(store, "api-2"), within=15, what="the survivor leading")
                    print(f"survivor leads {time.monotonic() - killed:.1f} s after the SIGKILL")
                    taken_over = publisher.sent
                    await eventually(
                        partial(at_least, api_2, unique_id, taken_over + AFTER_TAKEOVER), within=30, what="more"
                    )
                published = publisher.sent
                waiting = published - len(set(await stored(api_2, unique_id)))
                print(f"published {published} readings, {killed_at} before the kill, {waiting} not stored yet")
                # What Mosquitto handed the dead process waits in its session until the leader adopts it.
                with contextlib.suppress(AssertionError):  # the check below says which are missing
                    await eventually(partial(at_least, api_2, unique_id, published), within=30, what="all stored")
                print(f"all stored {time.monotonic() - killed:.1f} s after the SIGKILL, without a restart")
                await eventually(lambda: adopted(store, "api-1"), within=15, what="the dead session adopted")
                took_over = [line for line in processes["api-2"].lines if "MQTT session fieldhub-api-1" in line]
                print("".join(took_over))
                found = await stored(api_2, unique_id)
                missing = sorted(set(range(published)) - set(found))
                assert not missing, f"{len(missing)} reading(s) lost: {missing[:20]}"
                assert sorted(found) == list(range(published)), "a reading stored twice"

                # Stored by now; the survivor's live feed reads what the other processes stored from the store.
                after_kill = set(range(killed_at, published))
                with contextlib.suppress(TimeoutError):  # the check below says which are missing
                    async with asyncio.timeout(20):
                        while not after_kill <= seen_live:
                            grew.clear()
                            await grew.wait()
                watching.cancel()
            unseen = sorted(after_kill - seen_live)
            assert not unseen, f"the live stream on the survivor missed {len(unseen)}: {unseen[:10]}...{unseen[-10:]}"

            records = await asyncio.to_thread(
                read_records, kafka.bootstrap, topic, lambda got: set(seqs_of(got)) >= set(range(published)), 60
            )
            on_topic = seqs_of(records)
            print(f"Kafka: {len(on_topic)} records, {len(on_topic) - len(set(on_topic))} sent again at the failover")
            assert set(on_topic) == set(range(published))
            await asyncio.to_thread(device.close)
        finally:
            await api_1.close()
            await api_2.close()
    print(f"whole test {time.monotonic() - began:.1f} s")

"""The leader takes over the Mosquitto sessions of hub processes that are gone (hub/broker/mosquitto/sessions.py).

A real Mosquitto and a real SQLite store. Two sessions share the device messages: ``fieldhub-live`` keeps reading,
``fieldhub-gone`` went away with its share still routed to it. :class:`SessionAdoption` must hand every message the
gone session held to the hub exactly once, leave it unsubscribed (later messages all reach the live one), stop
without loss when the process comes back meanwhile, and try again after a message that failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contracts.topics import ROOT
from hub.broker.base import DeviceIdentity
from hub.broker.mosquitto.adapter import DeviceMessages, Identities, MosquittoBroker
from hub.broker.mosquitto.link import BrokerAddress
from hub.broker.mosquitto.sessions import PREFIX, SessionAdoption
from hub.leader import LeasePolicy
from hub.metrics import Metrics
from hub.store.backend import Backend
from hub.store.factory import open_store
from tests.contract.support import T0, with_devices
from tests.helpers.mosquitto import SERVICE_PASSWORD, SERVICE_USER, ExternalMosquitto
from tests.helpers.waiting import soon

pytestmark = pytest.mark.timeout(60)

GROUP = "adoption-test"
DEVICE = "dev-1"
POLICY = LeasePolicy(ttl_s=2.0, renew_s=0.5)
TTL_MS = int(POLICY.ttl_s * 1000)
GONE = "fieldhub-gone"


class Recorder:
    """The hub's side of the messages (an InboundHandler): the numbers it was handed, in order."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.first = asyncio.Event()
        #: While set to an unset Event, each message waits for it (the hub being slow).
        self.gate: asyncio.Event | None = None
        #: This many messages fail before any is taken.
        self.failures = 0

    async def on_message(self, identity: DeviceIdentity, topic: str, payload: bytes, *, stored: bool) -> None:
        assert identity.device_id == DEVICE and stored
        self.first.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the store is away")
        self.seqs.append(int(payload))


class Clock:
    """Lease time the test moves on, so nobody waits for a lease to run out."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Backend]:
    backend = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    await backend.database.open()
    await with_devices(backend, DEVICE)
    yield backend
    await backend.database.close()


def address_of(broker: ExternalMosquitto) -> BrokerAddress:
    return BrokerAddress("127.0.0.1", broker.port, SERVICE_USER, SERVICE_PASSWORD)


def session(broker: ExternalMosquitto, client_id: str, recorder: Recorder, store: Backend) -> MosquittoBroker:
    """A hub process's session in the group, as an ingest replica has it."""
    return MosquittoBroker(address_of(broker), client_id, recorder, Identities(store.registry), Metrics(), group=GROUP)


def publish(broker: ExternalMosquitto, seqs: range) -> None:
    """The device's readings, at QoS 1, each acknowledged by the broker before this returns."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="publisher")
    client.username_pw_set(SERVICE_USER, SERVICE_PASSWORD)  # may publish under devices/ (the hub's account)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        for seq in seqs:
            client.publish(f"{ROOT}/{DEVICE}/telemetry", str(seq).encode(), qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


async def gone_with_a_share(broker: ExternalMosquitto, store: Backend, live: Recorder, count: int) -> Recorder:
    """Let ``fieldhub-gone`` join the group and leave; publish ``count`` readings while it is away."""
    gone = Recorder()
    async with session(broker, GONE, gone, store):
        pass  # subscribed; the session outlives the connection
    await asyncio.to_thread(publish, broker, range(count))
    # Half of them or so are routed to the live session: wait for those to be in.
    await soon(lambda: len(live.seqs) >= count // 3, what="the live session's share")
    assert not gone.seqs
    return gone


def adoption(
    broker: ExternalMosquitto, store: Backend, recorder: Recorder, clock: Clock, metrics: Metrics | None = None
) -> SessionAdoption:
    metrics = metrics or Metrics()
    messages = DeviceMessages(recorder, Identities(store.registry), metrics)
    return SessionAdoption(
        store.leases,
        "adopter",
        address_of(broker),
        "fieldhub-live",
        messages,
        metrics=metrics,
        group=GROUP,
        policy=POLICY,
        clock=clock,
    )


async def test_the_session_of_a_process_that_died_is_emptied_into_the_hub_and_unsubscribed(
    broker: ExternalMosquitto, store: Backend
) -> None:
    clock, live, adopted = Clock(), Recorder(), Recorder()
    async with session(broker, "fieldhub-live", live, store):
        # The gone process held its lease and died: it runs out. The live process's own lease lapsed too (the
        # store was away for it): the adopter never takes over its own session.
        assert await store.leases.acquire(PREFIX + GONE, "gone-1234", clock.now, clock.now + TTL_MS)
        assert await store.leases.acquire(PREFIX + "fieldhub-live", "adopter", clock.now, clock.now + 1)
        await gone_with_a_share(broker, store, live, 200)
        metrics = Metrics()
        adopter = adoption(broker, store, adopted, clock, metrics)
        assert await adopter.sweep() == 0, "adopted a session whose lease still runs"

        clock.now += TTL_MS
        assert await adopter.sweep() == 1
        held = len(adopted.seqs)
        assert held > 0, "the gone session held nothing: the test proves nothing"
        await soon(lambda: len(live.seqs) + held >= 200, what="the live share")
        assert sorted(live.seqs + adopted.seqs) == list(range(200)), "lost or handed on twice"
        assert metrics.registry.get_sample_value("fieldhub_mqtt_sessions_adopted_total") == 1
        assert metrics.registry.get_sample_value("fieldhub_mqtt_adopted_messages_total") == held
        assert await store.leases.lapsed(PREFIX + GONE, clock.now + 10 * TTL_MS) == [], "its lease not forgotten"
        assert await adopter.sweep() == 0

        # Unsubscribed: every later reading reaches the live session, none is kept for the gone one.
        await asyncio.to_thread(publish, broker, range(200, 300))
        await soon(lambda: len(live.seqs) + held >= 300, what="every later reading on the live session")
        assert sorted(live.seqs + adopted.seqs) == list(range(300))


async def test_a_stopped_process_released_its_lease_and_is_adopted_at_once(
    broker: ExternalMosquitto, store: Backend
) -> None:
    clock, live, adopted = Clock(), Recorder(), Recorder()
    async with session(broker, "fieldhub-live", live, store):
        assert await store.leases.acquire(PREFIX + GONE, "gone-1234", clock.now, clock.now + TTL_MS)
        assert await store.leases.release(PREFIX + GONE, "gone-1234")  # a clean stop
        await gone_with_a_share(broker, store, live, 100)
        assert await adoption(broker, store, adopted, clock).sweep() == 1
        await soon(lambda: len(live.seqs) + len(adopted.seqs) >= 100, what="every reading")
        assert sorted(live.seqs + adopted.seqs) == list(range(100))


async def test_a_process_back_during_the_takeover_stops_it_and_gets_the_rest(
    broker: ExternalMosquitto, store: Backend
) -> None:
    clock, live, adopted, back = Clock(), Recorder(), Recorder(), Recorder()
    async with session(broker, "fieldhub-live", live, store):
        assert await store.leases.acquire(PREFIX + GONE, "gone-1234", clock.now, clock.now + 1)
        await gone_with_a_share(broker, store, live, 200)
        clock.now += 1
        adopted.gate = asyncio.Event()  # the adopter's first message takes a while...
        sweep = asyncio.create_task(adoption(broker, store, adopted, clock).sweep())
        await asyncio.wait_for(adopted.first.wait(), 10)
        # ...and meanwhile the process comes back under its client id: Mosquitto closes the adopter's connection.
        async with session(broker, GONE, back, store):
            adopted.gate.set()
            assert await asyncio.wait_for(sweep, 20) == 0, "an adoption cut short counted as done"
            await soon(
                lambda: set(live.seqs) | set(adopted.seqs) | set(back.seqs) >= set(range(200)), what="every reading"
            )
        assert sorted(set(live.seqs + adopted.seqs + back.seqs)) == list(range(200))
        # The adopter keeps the lease until it runs out: the process takes it back at its next renewal.
        lease = await store.leases.holder(PREFIX + GONE, clock.now)
        assert lease is not None and lease.holder == "adopter"


@pytest.mark.allow_logged_exceptions  # the failed message, logged by the link
async def test_an_adoption_with_a_failed_message_is_tried_again_and_loses_nothing(
    broker: ExternalMosquitto, store: Backend
) -> None:
    clock, live, adopted = Clock(), Recorder(), Recorder()
    async with session(broker, "fieldhub-live", live, store):
        assert await store.leases.acquire(PREFIX + GONE, "gone-1234", clock.now, clock.now + 1)
        await gone_with_a_share(broker, store, live, 100)
        clock.now += 1
        adopted.failures = 1
        adopter = adoption(broker, store, adopted, clock)
        assert await adopter.sweep() == 0, "a failed message counted as taken over"
        assert await store.leases.lapsed(PREFIX + GONE, clock.now + TTL_MS), "forgotten with a message left behind"
        clock.now += TTL_MS  # the adopter's own hold on the lease runs out
        assert await adopter.sweep() == 1
        await soon(lambda: len(live.seqs) + len(adopted.seqs) >= 100, what="every reading")
        assert sorted(set(live.seqs + adopted.seqs)) == list(range(100))

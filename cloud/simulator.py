"""Simulated devices that publish real MQTT with their own credentials (demo, ``fieldhub sim``)."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contracts.devices import DeviceStatus
from contracts.messages import status_payload
from contracts.topics import status_topic, telemetry_topic
from hub.tasks import Background

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SimDevice:
    """A device id and its secret."""

    device_id: str
    secret: str


@dataclass(slots=True)
class FleetStats:
    """Counters of a running fleet (updated from paho threads)."""

    published: int = 0
    acked: int = 0
    connected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {"published": self.published, "acked": self.acked, "connected": self.connected}


def reading(device_index: int, t: float) -> dict[str, Any]:
    """Plausible greenhouse-like values: a daily sine with noise, and a door that opens now and then."""
    phase = device_index * 0.7
    return {
        "temperature": round(21 + 4 * math.sin(t / 600 + phase) + random.uniform(-0.2, 0.2), 2),  # noqa: S311
        "humidity": round(55 + 10 * math.sin(t / 900 + phase), 1),
        "door": random.random() < 0.05,  # noqa: S311 - simulation, not security
    }


class Fleet:
    """Connects every device (paho, one network thread each) and publishes at ``rate`` messages/s per device."""

    def __init__(
        self, devices: list[SimDevice], host: str, port: int, *, rate: float, batch: int = 1, qos: int = 1
    ) -> None:
        self._devices = devices
        self._host = host
        self._port = port
        self._rate = rate
        self._batch = batch
        self._qos = qos
        self._clients: list[mqtt.Client] = []
        self._seq = [0] * len(devices)
        self._background = Background()
        self.stats = FleetStats()

    def _client(self, device: SimDevice) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device.device_id)
        client.username_pw_set(device.device_id, device.secret)
        client.max_inflight_messages_set(100)
        # Like a real device: online when connected, offline as the last will (see contracts.messages).
        status = status_topic(device.device_id)
        client.will_set(status, status_payload(DeviceStatus.OFFLINE), qos=1, retain=True)
        stats = self.stats

        def on_connect(c: mqtt.Client, _u: object, _f: object, reason: Any, _p: object) -> None:
            if reason.is_failure:
                log.warning("simulated device %s refused: %s", device.device_id, reason)
                return
            c.publish(status, status_payload(DeviceStatus.ONLINE), qos=1, retain=True)
            with stats.lock:
                stats.connected += 1

        def on_disconnect(_c: mqtt.Client, _u: object, _f: object, _reason: Any, _p: object) -> None:
            with stats.lock:
                stats.connected = max(0, stats.connected - 1)

        def on_publish(_c: mqtt.Client, _u: object, _mid: int, _reason: Any, _p: object) -> None:
            with stats.lock:
                stats.acked += 1  # status messages too: at most two per connection

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_publish = on_publish
        return client

    async def __aenter__(self) -> Self:
        for device in self._devices:
            client = self._client(device)
            client.connect_async(self._host, self._port, keepalive=30)
            client.loop_start()
            self._clients.append(client)
        await self._background.open()
        self._background.spawn(self._publish_loop(), name="sim-publisher")
        return self

    def _publish_one(self, index: int, now: float) -> None:
        device = self._devices[index]
        items = []
        for _ in range(self._batch):
            self._seq[index] += 1
            items.append({"ts": int(now * 1000), "values": reading(index, now), "seq": self._seq[index]})
        payload = orjson.dumps(items[0] if self._batch == 1 else items)
        info = self._clients[index].publish(telemetry_topic(device.device_id), payload, qos=self._qos)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            with self.stats.lock:
                self.stats.published += 1

    async def _publish_loop(self) -> None:
        interval = 1.0 / self._rate
        next_tick = time.monotonic()
        while True:
            now = time.time()
            for index, client in enumerate(self._clients):
                if client.is_connected():
                    self._publish_one(index, now)
            next_tick += interval
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._background.close()

        def stop() -> None:
            for device, client in zip(self._devices, self._clients, strict=True):
                if client.is_connected():
                    offline = status_payload(DeviceStatus.OFFLINE)
                    client.publish(status_topic(device.device_id), offline, qos=1, retain=True).wait_for_publish(2)
                client.disconnect()
                client.loop_stop()

        await asyncio.to_thread(stop)

"""A paho client for tests: thread-safe events instead of sleeps."""

from __future__ import annotations

import queue
import threading
import uuid
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contracts.devices import DeviceStatus
from contracts.ids import is_valid_id
from contracts.messages import status_payload
from contracts.topics import status_topic

TIMEOUT = 10.0


class TestDevice:
    """One real MQTT client connected (or refused) to a broker."""

    __test__ = False  # not a test class

    def __init__(
        self,
        port: int,
        username: str | None,
        password: str | None,
        client_id: str | None = None,
        *,
        announce: bool = True,
    ) -> None:
        """With ``announce``, the device follows the status contract: online at connect, offline as its will."""
        self.client_id = client_id or username or f"anon-{uuid.uuid4().hex[:8]}"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id)
        # A username that is no device id (the security tests send such) has no status topic to announce on.
        self._status = status_topic(username) if announce and username and is_valid_id(username) else None
        if username is not None:
            self.client.username_pw_set(username, password)
        if self._status is not None:
            self.client.will_set(self._status, status_payload(DeviceStatus.OFFLINE), qos=1, retain=True)
        self.client.reconnect_delay_set(30, 60)  # never reconnect within a test on its own
        self.port = port
        self.connack = threading.Event()
        self.disconnected = threading.Event()
        self.reason: Any = None
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.suback: queue.Queue[list[Any]] = queue.Queue()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda _c, _u, msg: self.messages.put(msg)
        self.client.on_subscribe = lambda _c, _u, _mid, codes, _p: self.suback.put(list(codes))

    def _on_connect(self, client: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.reason = reason
        if self._status is not None and not reason.is_failure:
            client.publish(self._status, status_payload(DeviceStatus.ONLINE), qos=1, retain=True)
        self.connack.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.disconnected.set()

    def connect(self, *, expect_success: bool = True) -> TestDevice:
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        assert self.connack.wait(TIMEOUT), "no CONNACK"
        if expect_success:
            assert not self.reason.is_failure, f"connect refused: {self.reason}"
        return self

    @property
    def refused(self) -> bool:
        return bool(self.reason is not None and self.reason.is_failure)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published(), f"publish to {topic} not acknowledged"

    def subscribe(self, topic: str, qos: int = 1) -> list[Any]:
        self.client.subscribe(topic, qos=qos)
        return self.suback.get(timeout=TIMEOUT)

    def next_message(self, timeout: float = TIMEOUT) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=timeout)

    def close(self) -> None:
        if self._status is not None and self.client.is_connected():
            offline = self.client.publish(self._status, status_payload(DeviceStatus.OFFLINE), qos=1, retain=True)
            offline.wait_for_publish(TIMEOUT)
        self.client.disconnect()
        self.client.loop_stop()

    def drop(self) -> None:
        """End the connection without a DISCONNECT, as a device losing power does (the broker sends its will)."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()


def answer_commands(device: TestDevice, stop: threading.Event, reply: str = "ok") -> None:
    """Act as device firmware: answer each command with its correlation id."""
    while not stop.is_set():
        try:
            message = device.next_message(timeout=0.2)
        except queue.Empty:
            continue
        request = orjson.loads(message.payload)
        response = {"id": request["id"], "status": reply, "result": {"echo": request["params"]}}
        device.client.publish(f"{message.topic}/response", orjson.dumps(response), qos=1)

"""The agent's MQTT link: paho on one network thread, its events handed to the asyncio loop.

paho's own reconnect has no jitter, so the network thread reconnects itself with capped,
jittered exponential backoff (a fleet of gateways coming back after an outage must not hit
the hub in lockstep). The session is persistent (``clean_session=False``): paho keeps
unacknowledged QoS 1 messages and sends them again after a reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contracts.devices import DeviceStatus
from contracts.messages import status_payload
from contracts.topics import command_subscription, deployments_topic, state_desired_topic, status_topic
from edge_agent.config import HubSection, UplinkSection

log = logging.getLogger(__name__)
MessageHandler = Callable[[str, bytes], None]
_LOOP_TIMEOUT_S = 0.2
_CLOSE_TIMEOUT_S = 5.0


class Uplink:
    """Connects as the device, publishes with acknowledgement futures, delivers downlink messages."""

    def __init__(self, hub: HubSection, settings: UplinkSection, on_message: MessageHandler) -> None:
        self._hub = hub
        self._settings = settings
        self._on_message = on_message
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client = self._build_client()
        self._acks: dict[int, asyncio.Future[None]] = {}
        self.connected = asyncio.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connects = 0

    def _build_client(self) -> mqtt.Client:
        hub = self._hub
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=hub.device_id, clean_session=False)
        client.username_pw_set(hub.device_id, hub.secret.get_secret_value())
        client.will_set(status_topic(hub.device_id), status_payload(DeviceStatus.OFFLINE), qos=1, retain=True)
        # Everything unacknowledged is already in the spool: paho need not hold more than is in flight.
        client.max_inflight_messages_set(self._settings.max_inflight)
        if hub.tls:
            context = ssl.create_default_context(cafile=str(hub.ca_file) if hub.ca_file else None)
            client.tls_set_context(context)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_paho_message
        return client

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="mqtt-uplink", daemon=True)
        self._thread.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, _CLOSE_TIMEOUT_S + 1)
        for future in self._acks.values():
            future.cancel()
        self._acks.clear()

    def publish(self, topic: str, payload: bytes, qos: int = 1, *, retain: bool = False) -> asyncio.Future[None]:
        """Hand a message to paho; the future completes when the broker acknowledged it (QoS 1).

        Call from the event loop only: acknowledgements are resolved there, so a fast PUBACK
        can never arrive before its future exists.
        """
        assert self._loop is not None, "uplink is not running"
        future: asyncio.Future[None] = self._loop.create_future()
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if qos == 0 or info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            # QoS 0 has no acknowledgement; a refused publish (queue full) fails now.
            if info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                future.set_result(None)
            else:
                future.set_exception(ConnectionError(mqtt.error_string(info.rc)))
            return future
        self._acks[info.mid] = future
        return future

    def post(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Publish without waiting for the acknowledgement; a refusal is logged."""
        self.publish(topic, payload, qos).add_done_callback(_log_failure)

    # --- network thread -------------------------------------------------------------------

    def _run(self) -> None:
        delay = self._settings.reconnect_min_s
        first = True
        # True from a successful connect() until the socket fails: a CONNACK may still be on its
        # way, and connecting again meanwhile would open a second session under the same client id.
        socket_open = False
        while not self._stop.is_set():
            if not socket_open:
                try:
                    if first:
                        self._client.connect(self._hub.host, self._hub.port, keepalive=self._hub.keepalive_s)
                        first = False
                    else:
                        self._client.reconnect()
                    socket_open = True
                except (OSError, ssl.SSLError) as exc:
                    log.warning("cannot reach the hub at %s:%d: %s", self._hub.host, self._hub.port, exc)
                    delay = self._backoff(delay)
                    continue
            rc = self._client.loop(timeout=_LOOP_TIMEOUT_S)
            if rc == mqtt.MQTT_ERR_SUCCESS:
                if self._client.is_connected():
                    delay = self._settings.reconnect_min_s
                continue
            socket_open = False
            delay = self._backoff(delay)
        self._close()

    def _backoff(self, delay: float) -> float:
        """Wait a jittered ``delay`` (or until stopped); return the next, doubled up to the cap."""
        self._stop.wait(random.uniform(delay / 2, delay))  # noqa: S311 - jitter, not cryptography
        return min(delay * 2, self._settings.reconnect_max_s)

    def _close(self) -> None:
        if not self._client.is_connected():
            return
        # A clean DISCONNECT sends no last will: say offline first.
        self._client.publish(
            status_topic(self._hub.device_id), status_payload(DeviceStatus.OFFLINE), qos=1, retain=True
        )
        self._client.disconnect()
        deadline = _CLOSE_TIMEOUT_S / _LOOP_TIMEOUT_S
        while self._client.is_connected() and deadline > 0:
            self._client.loop(timeout=_LOOP_TIMEOUT_S)
            deadline -= 1

    def _call_soon(self, fn: Callable[..., None], *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.error("the hub refused the connection of %s: %s", self._hub.device_id, reason)
            return
        device_id = self._hub.device_id
        client.subscribe(
            [
                (command_subscription(device_id), 1),
                (state_desired_topic(device_id), 1),
                (deployments_topic(device_id), 1),
            ]
        )
        client.publish(status_topic(device_id), status_payload(DeviceStatus.ONLINE), qos=1, retain=True)
        self.connects += 1
        log.info("connected to %s:%d as %s", self._hub.host, self._hub.port, device_id)
        self._call_soon(self.connected.set)

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not self._stop.is_set():
            log.warning("lost the connection to the hub: %s", reason)
        self._call_soon(self.connected.clear)

    def _on_publish(self, _c: Any, _u: Any, mid: int, _r: Any, _p: Any) -> None:
        self._call_soon(self._acked, mid)

    def _acked(self, mid: int) -> None:
        future = self._acks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(None)

    def _on_paho_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        self._call_soon(self._on_message, message.topic, bytes(message.payload))


def _log_failure(done: asyncio.Future[None]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.warning("a message to the hub was refused: %s", done.exception())

"""NATS JetStream sink: a stream per tenant, subject ``fieldhub.<tenant>.telemetry.<device>``, acked publishes.

Alarm notifications go to a stream of their own per tenant (:func:`alarms_stream_name`), subject
``fieldhub.<tenant>.alarms.<device>``, each with the notification id as ``Nats-Msg-Id``.

Audit records go to one stream for the whole hub, ``fieldhub-audit``, subject ``fieldhub._audit.<tenant>``
(``_platform`` for records of no tenant), each with its record id as ``Nats-Msg-Id``. No tenant id starts with
``_``, so these subjects never overlap a tenant's (JetStream refuses streams whose subjects overlap).

Redeliveries (a device sending again a message whose PUBACK it missed) carry the same
``Nats-Msg-Id`` when the message has a ``seq``, so JetStream's duplicate window drops them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence

import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import Error as JetStreamError

from contracts.telemetry import device_seq
from hub.errors import SinkUnavailable
from hub.store.telemetry import Message
from hub.streams.base import PLATFORM, alarm_headers, audit_headers, headers, public_name, record

log = logging.getLogger(__name__)
_CONCURRENT_PUBLISHES = 256
_TIMEOUT_S = 5.0


def stream_name(tenant: str) -> str:
    """JetStream names may not contain dots; a tenant id with dots gets a hash to stay unique."""
    if "." not in tenant:
        return f"fieldhub_{tenant}"
    return f"fieldhub_{tenant.replace('.', '_')}_{hashlib.sha256(tenant.encode()).hexdigest()[:8]}"


def subject(tenant: str, device_id: str) -> str:
    return f"fieldhub.{tenant}.telemetry.{device_id}"


def alarms_stream_name(tenant: str) -> str:
    """Beside, not inside, the telemetry stream: adding a subject to a stream that exists would fail.

    ``fieldhub-alarms_`` cannot start a telemetry stream's name (those start ``fieldhub_``), so none collide.
    """
    return "fieldhub-alarms_" + stream_name(tenant).removeprefix("fieldhub_")


def alarms_subject(tenant: str, device_id: str) -> str:
    return f"fieldhub.{tenant}.alarms.{device_id}"


AUDIT_STREAM = "fieldhub-audit"


def audit_subject(tenant: str | None) -> str:
    return f"fieldhub._audit.{tenant or PLATFORM}"


class NatsSink:
    """Writes each accepted message to the tenant's JetStream stream and waits for the acks."""

    def __init__(self, url: str) -> None:
        self.name = public_name(url)
        self._url = url
        self._nc: Client | None = None
        self._streams: set[str] = set()
        self._alarm_streams: set[str] = set()
        self._audit_stream = False

    async def open(self) -> None:
        try:
            # Reconnect forever in the background: while NATS is away, send() fails and ingest waits.
            self._nc = await nats.connect(
                self._url, connect_timeout=_TIMEOUT_S, max_reconnect_attempts=-1, reconnect_time_wait=0.5
            )
        except (OSError, NatsError, TimeoutError) as exc:
            raise SinkUnavailable(f"cannot reach NATS at {self._url}: {exc}") from None

    async def send(self, batch: Sequence[Message]) -> None:
        if self._nc is None:
            raise SinkUnavailable("NATS sink is not open")
        js = self._nc.jetstream(timeout=_TIMEOUT_S)
        try:
            for tenant in {item.tenant for item in batch} - self._streams:
                name = stream_name(tenant)
                await js.add_stream(name=name, subjects=[f"fieldhub.{tenant}.telemetry.>"])
                self._streams.add(tenant)
            for start in range(0, len(batch), _CONCURRENT_PUBLISHES):
                chunk = batch[start : start + _CONCURRENT_PUBLISHES]
                await asyncio.gather(*(self._publish(js, item) for item in chunk))
        except (NatsError, JetStreamError, TimeoutError, OSError) as exc:
            raise SinkUnavailable(f"NATS at {self._url}: {exc!r}") from None

    @staticmethod
    async def _publish(js: JetStreamContext, item: Message) -> None:
        head = headers(item)
        seq = device_seq(item.readings[0].seq) if item.readings else None
        if seq is not None:
            head["Nats-Msg-Id"] = f"{item.device_id}:{item.readings[0].key}:{seq}"
        await js.publish(subject(item.tenant, item.device_id), record(item), headers=head)

    async def send_alarm(self, tenant: str, device_id: str, body: bytes, record_id: str) -> None:
        if self._nc is None:
            raise SinkUnavailable("NATS sink is not open")
        js = self._nc.jetstream(timeout=_TIMEOUT_S)
        # A retry after a lost ack carries the same id: JetStream's duplicate window drops the copy.
        head = {**alarm_headers(tenant, device_id), "Nats-Msg-Id": record_id}
        try:
            if tenant not in self._alarm_streams:
                await js.add_stream(name=alarms_stream_name(tenant), subjects=[f"fieldhub.{tenant}.alarms.>"])
                self._alarm_streams.add(tenant)
            await js.publish(alarms_subject(tenant, device_id), body, headers=head)
        except (NatsError, JetStreamError, TimeoutError, OSError) as exc:
            raise SinkUnavailable(f"NATS at {self._url}: {exc!r}") from None

    async def send_audit(self, tenant: str | None, body: bytes, record_id: str) -> None:
        if self._nc is None:
            raise SinkUnavailable("NATS sink is not open")
        js = self._nc.jetstream(timeout=_TIMEOUT_S)
        head = {**audit_headers(tenant, record_id), "Nats-Msg-Id": record_id}
        try:
            if not self._audit_stream:
                await js.add_stream(name=AUDIT_STREAM, subjects=["fieldhub._audit.>"])
                self._audit_stream = True
            await js.publish(audit_subject(tenant), body, headers=head)
        except (NatsError, JetStreamError, TimeoutError, OSError) as exc:
            raise SinkUnavailable(f"NATS at {self._url}: {exc!r}") from None

    async def close(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None:
            await nc.close()

"""Kafka-protocol sink through confluent-kafka: idempotent producer, acks=all, key = device id.

Topic per tenant (``fieldhub.<tenant>.telemetry`` by default, the pattern is configurable with
``?topic=``), so each device keeps its order within its partition; alarm notifications go to the same topic
name with ``.alarms`` appended (``fieldhub.<tenant>.telemetry.alarms``), keyed by device too; audit records to one
topic for the hub, ``fieldhub.audit``, keyed by tenant. librdkafka runs its own
threads; ``send`` waits for the delivery reports of the batch off the event loop, in short steps
so that a close never waits long on a broker that is down (the forwarder sends again what was
not delivered). librdkafka's own log lines go through a rate limit: it reports every failed
connection attempt, several a second while a broker is away.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from hub.errors import ConfigError, SinkUnavailable
from hub.logutil import RateLimitFilter
from hub.store.telemetry import Message as StoredMessage
from hub.streams.base import PLATFORM, alarm_headers, audit_headers, headers, public_name, record

log = logging.getLogger(__name__)
#: librdkafka's own messages (rate limited once a sink is made).
client_log = logging.getLogger(f"{__name__}.librdkafka")
DEFAULT_TOPIC = "fieldhub.{tenant}.telemetry"
AUDIT_TOPIC = "fieldhub.audit"
_TIMEOUT_S = 10.0
#: How long one blocking librdkafka call may take: bounds how long a close waits for it.
_STEP_S = 0.25


class KafkaSink:
    """Writes each stored message to the tenant's topic and waits until the brokers acknowledged it."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if not parts.hostname:
            raise ConfigError(f"stream {url!r}: use kafka://host:port[,host:port][?topic=pattern]")
        self.name = public_name(url)
        self._servers = parts.netloc
        self._topic = parse_qs(parts.query).get("topic", [DEFAULT_TOPIC])[0]
        if "{tenant}" not in self._topic:
            raise ConfigError(f"stream {url!r}: the topic pattern must contain {{tenant}}")
        self._producer: Producer | None = None
        self._admin: AdminClient | None = None
        self._topics: set[str] = set()
        self._closing = threading.Event()
        if not any(isinstance(f, RateLimitFilter) for f in client_log.filters):
            client_log.addFilter(RateLimitFilter(interval_s=30.0))

    async def open(self) -> None:
        config: dict[str, str | int | float | bool] = {
            "bootstrap.servers": self._servers,
            "socket.timeout.ms": int(_TIMEOUT_S * 1000),
        }
        # Both connect in the background: a broker that is down shows as failed sends, retried.
        self._admin = AdminClient(config, logger=client_log)
        self._producer = Producer(
            {
                **config,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                # Retried inside librdkafka until then; past it, send() fails and the forwarder sends again.
                "delivery.timeout.ms": int(_TIMEOUT_S * 1000),
            },
            logger=client_log,
        )

    def _ensure_topics(self, names: set[str]) -> None:
        assert self._admin is not None
        missing = names - self._topics
        if not missing:
            return
        try:
            existing = set(self._admin.list_topics(timeout=_STEP_S * 8).topics)
        except KafkaException as exc:
            raise SinkUnavailable(f"Kafka at {self._servers}: {exc}") from None
        new = [NewTopic(name, num_partitions=3, replication_factor=1) for name in missing - existing]
        for name, future in self._admin.create_topics(new).items() if new else []:
            try:
                future.result(_TIMEOUT_S)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
            log.info("created Kafka topic %s", name)
        self._topics |= missing

    def _send(self, batch: Sequence[StoredMessage]) -> None:
        producer = self._producer
        assert producer is not None
        self._ensure_topics({self._topic.format(tenant=item.tenant) for item in batch})
        failures: list[str] = []

        def report(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failures.append(str(err))

        for item in batch:
            producer.produce(
                self._topic.format(tenant=item.tenant),
                value=record(item),
                key=item.device_id.encode(),
                headers=list(headers(item).items()),
                on_delivery=report,
            )
        deadline = time.monotonic() + _TIMEOUT_S + 5
        left = len(producer)
        while left and not failures and not self._closing.is_set() and time.monotonic() < deadline:
            left = producer.flush(_STEP_S)
        if failures or left:
            # Undelivered records are dropped here: the whole batch is sent again, in order.
            producer.purge()
            raise SinkUnavailable(f"Kafka at {self._servers}: {left} undelivered, {failures[:3]}")

    async def send(self, batch: Sequence[StoredMessage]) -> None:
        if self._producer is None:
            raise SinkUnavailable("Kafka sink is not open")
        try:
            await asyncio.to_thread(self._send, batch)
        except (KafkaException, BufferError) as exc:
            raise SinkUnavailable(f"Kafka at {self._servers}: {exc}") from None

    def _send_alarm(self, tenant: str, device_id: str, body: bytes) -> None:
        topic = f"{self._topic.format(tenant=tenant)}.alarms"
        self._send_one(topic, device_id, body, alarm_headers(tenant, device_id))

    def _send_one(self, topic: str, key: str, body: bytes, head: dict[str, str]) -> None:
        producer = self._producer
        assert producer is not None
        self._ensure_topics({topic})
        done = threading.Event()
        failures: list[str] = []

        def report(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failures.append(str(err))
            done.set()

        producer.produce(topic, value=body, key=key.encode(), headers=list(head.items()), on_delivery=report)
        # Not flush(): that would wait for the telemetry batch in flight as well. Whichever thread polls runs
        # the report, so this waits on the event, polling in short steps.
        deadline = time.monotonic() + _TIMEOUT_S + 5
        while not done.is_set() and not self._closing.is_set() and time.monotonic() < deadline:
            producer.poll(_STEP_S)
        if failures or not done.is_set():
            raise SinkUnavailable(f"Kafka at {self._servers}: {topic} record undelivered {failures[:1]}")

    async def send_alarm(self, tenant: str, device_id: str, body: bytes, record_id: str) -> None:
        if self._producer is None:
            raise SinkUnavailable("Kafka sink is not open")
        try:
            await asyncio.to_thread(self._send_alarm, tenant, device_id, body)
        except (KafkaException, BufferError) as exc:
            raise SinkUnavailable(f"Kafka at {self._servers}: {exc}") from None

    async def send_audit(self, tenant: str | None, body: bytes, record_id: str) -> None:
        if self._producer is None:
            raise SinkUnavailable("Kafka sink is not open")
        head = audit_headers(tenant, record_id)
        try:
            await asyncio.to_thread(self._send_one, AUDIT_TOPIC, tenant or PLATFORM, body, head)
        except (KafkaException, BufferError) as exc:
            raise SinkUnavailable(f"Kafka at {self._servers}: {exc}") from None

    async def close(self) -> None:
        self._closing.set()
        self._admin = None
        producer, self._producer = self._producer, None
        if producer is not None:
            left = await asyncio.to_thread(producer.flush, _STEP_S * 4)
            if left:
                producer.purge()

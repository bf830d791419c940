"""Reading a Kafka topic back as a northbound consumer would: a consumer group, from the start."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from confluent_kafka import Consumer

Raw = tuple[bytes, bytes, dict[str, bytes]]
Record = tuple[dict[str, Any], bytes, dict[str, bytes]]


def read_raw(bootstrap: str, topic: str, enough: Callable[[list[Raw]], bool], within: float = 60.0) -> list[Raw]:
    """Messages of ``topic`` (value, key, headers) until ``enough(messages)`` holds; fail after ``within`` s."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-readers-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 300,
        }
    )
    consumer.subscribe([topic])
    out: list[Raw] = []
    deadline = time.monotonic() + within
    try:
        while not enough(out):
            assert time.monotonic() < deadline, f"only {len(out)} record(s) in {topic} after {within}s"
            msg = consumer.poll(0.1)
            if msg is None or msg.error():
                continue
            out.append((msg.value() or b"", msg.key() or b"", dict(msg.headers() or [])))
        return out
    finally:
        consumer.close()


def read_records(
    bootstrap: str, topic: str, enough: Callable[[list[Record]], bool], within: float = 60.0
) -> list[Record]:
    """Fieldhub's JSON records of ``topic`` (record, key, headers) until ``enough(records)`` holds."""

    def decoded(raw: list[Raw]) -> list[Record]:
        return [(orjson.loads(value), key, head) for value, key, head in raw]

    return decoded(read_raw(bootstrap, topic, lambda raw: enough(decoded(raw)), within))


def seqs_of(records: list[Record]) -> list[int]:
    """The seq of each record's first reading, in the order read."""
    return [record["readings"][0]["seq"] for record, _, _ in records]

"""The Apache Kafka test helper: a real broker keeps topics and records across a stop and start."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, Message, Producer

from tests.helpers.apache_kafka import ApacheKafka
from tests.helpers.kafka_topic import read_raw

KEY = b"sensor-1"  # one key puts every record in one partition, where Kafka keeps their order


def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    """Send ``values`` the way the hub does (idempotent, acks=all) and wait until each is acknowledged."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            errors.append(err)

    for value in values:
        producer.produce(topic, value, key=KEY, on_delivery=on_delivery)
    remaining = producer.flush(60)
    producer.close()
    assert remaining == 0, f"{remaining} records not acknowledged"
    assert not errors, errors


@pytest.mark.timeout(180)
def test_records_survive_a_broker_restart(tmp_path: Path) -> None:
    topic = f"readings-{uuid.uuid4().hex[:10]}"
    values = [f"reading-{i}".encode() for i in range(10)]

    with ApacheKafka(tmp_path / "kafka") as kafka:
        bootstrap = kafka.bootstrap
        produce(bootstrap, topic, values)
        kafka.stop()
        kafka.start()

        assert kafka.bootstrap == bootstrap
        read = read_raw(bootstrap, topic, lambda got: len(got) >= len(values))
        assert [value for value, _, _ in read] == values

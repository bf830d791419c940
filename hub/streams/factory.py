"""Stream sinks by URL scheme, as ``--stream`` / ``FIELDHUB_STREAM`` name them; a sink registers here by name."""

from __future__ import annotations

from urllib.parse import urlsplit

from hub.backends import BackendRegistry
from hub.errors import ConfigError
from hub.streams.base import StreamSink

SINKS: BackendRegistry[StreamSink] = BackendRegistry("stream")


def _needs_host(url: str) -> None:
    if not urlsplit(url).hostname:
        raise ConfigError(f"stream {url!r} names no host")


@SINKS.register("nats", "NATS JetStream, a stream per tenant", "nats://host:4222")
def _nats(url: str) -> StreamSink:
    _needs_host(url)
    from hub.streams.nats import NatsSink  # noqa: PLC0415 - nats-py loads only when a NATS stream is used

    return NatsSink(url)


@SINKS.register("kafka", "any Kafka-protocol broker, a topic per tenant", "kafka://host:9092[?topic=pattern]")
def _kafka(url: str) -> StreamSink:
    _needs_host(url)
    from hub.streams.kafka import KafkaSink  # noqa: PLC0415 - librdkafka loads only when Kafka is used

    return KafkaSink(url)


def build_sink(url: str) -> StreamSink:
    """A sink for ``url`` (not yet connected)."""
    return SINKS.build(url)

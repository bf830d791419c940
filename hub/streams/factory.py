"""Stream sinks by URL scheme, as ``--stream`` / ``FIELDHUB_STREAM`` name them."""

from __future__ import annotations

from urllib.parse import urlsplit

from hub.errors import ConfigError
from hub.streams.base import StreamSink

SCHEMES = ("nats", "kafka")


def build_sink(url: str) -> StreamSink:
    """A sink for ``url`` (not yet connected)."""
    scheme = urlsplit(url).scheme
    if scheme == "nats":
        from hub.streams.nats import NatsSink  # noqa: PLC0415 - nats-py loads only when a NATS stream is used

        return NatsSink(url)
    if scheme == "kafka":
        from hub.streams.kafka import KafkaSink  # noqa: PLC0415 - librdkafka loads only when Kafka is used

        return KafkaSink(url)
    raise ConfigError(f"unsupported stream {url!r}: use nats://host:port or kafka://host:port")

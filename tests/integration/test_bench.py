"""The ingest benchmark runs end to end on a small load and reports every figure the docs quote."""

from __future__ import annotations

import orjson
import pytest

from tests.helpers.process import fieldhub

pytestmark = pytest.mark.timeout(180)


def test_the_mosquitto_bench_reports_its_figures_and_loses_nothing() -> None:
    # 600 messages: a smoke run of every variant (replica, paced, Kafka), not a measurement.
    done = fieldhub(
        *("bench", "ingest", "--broker", "mosquitto", "--publishers", "2", "--messages", "600", "--batch", "10"),
        *("--paced", "--replicas", "1", "--kafka", "--json"),
        timeout=170,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = orjson.loads(done.stdout.strip().splitlines()[-1])
    assert (result["sent"], result["stored"], result["lost"]) == (600, 600, 0)
    assert result["replicas"] == 1
    assert result["baseline_msgs_per_s"] > 0 and result["pipeline_msgs_per_s"] > 0
    assert result["points_per_s"] == pytest.approx(result["pipeline_msgs_per_s"] * 10, rel=0.01)
    assert result["ratio"] == pytest.approx(result["pipeline_msgs_per_s"] / result["baseline_msgs_per_s"], rel=0.01)
    paced = result["paced"]
    assert paced["lost"] == 0
    assert 0 <= paced["p50_ms"] <= paced["p99_ms"]
    # The Kafka variant counts the topic too: one record per message.
    kafka = result["kafka"]
    assert (kafka["sent"], kafka["stored"], kafka["records"], kafka["lost"]) == (600, 600, 600, 0)
    assert kafka["points_per_s"] == pytest.approx(kafka["pipeline_msgs_per_s"] * 10, rel=0.01)


def test_the_kafka_variant_is_refused_on_the_embedded_broker() -> None:
    done = fieldhub("bench", "ingest", "--kafka", "--messages", "10")
    assert done.returncode == 2
    assert "--kafka needs --broker mosquitto" in done.stderr

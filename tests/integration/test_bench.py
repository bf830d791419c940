"""The benchmarks run end to end on a small load and report every figure the docs quote."""

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


def test_the_paho_link_variant_stores_everything_and_reports_both_links() -> None:
    # The same small load through the hub's own link and through paho on the loop, in one invocation.
    done = fieldhub(
        *("bench", "ingest", "--broker", "mosquitto", "--publishers", "2", "--messages", "600", "--batch", "10"),
        *("--paho", "--json"),
        timeout=170,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = orjson.loads(done.stdout.strip().splitlines()[-1])
    paho = result["paho_link"]
    assert (result["sent"], result["stored"], result["lost"]) == (600, 600, 0)
    assert (paho["sent"], paho["stored"], paho["lost"]) == (600, 600, 0)
    assert result["pipeline_msgs_per_s"] > 0 and paho["pipeline_msgs_per_s"] > 0
    assert paho["points_per_s"] == pytest.approx(paho["pipeline_msgs_per_s"] * 10, rel=0.01)
    assert paho["ratio_to_own"] == pytest.approx(paho["pipeline_msgs_per_s"] / result["pipeline_msgs_per_s"], rel=0.01)


def test_the_paho_link_variant_is_refused_beside_replicas() -> None:
    # Replicas read through the hub's own link: beside them, the two runs would not compare links.
    done = fieldhub("bench", "ingest", "--broker", "mosquitto", "--paho", "--replicas", "1", "--messages", "10")
    assert done.returncode == 2
    assert "--paho needs --broker mosquitto and no --replicas" in done.stderr


def test_the_kafka_variant_is_refused_on_the_embedded_broker() -> None:
    done = fieldhub("bench", "ingest", "--kafka", "--messages", "10")
    assert done.returncode == 2
    assert "--kafka needs --broker mosquitto" in done.stderr


def test_the_http_ingest_bench_stores_every_answered_reading_and_compares_batches() -> None:
    done = fieldhub(
        *("bench", "http-ingest", "--seconds", "1", "--clients", "2", "--processes", "1"),
        *("--batch", "1", "--batch", "10", "--json"),
        timeout=170,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = orjson.loads(done.stdout.strip().splitlines()[-1])
    assert (result["errors"], result["lost_points"], result["baseline_batch"]) == (0, 0, 1)
    baseline, batched = result["runs"]
    assert baseline["requests"] > 0 and batched["requests"] > 0
    assert batched["points_per_s"] == pytest.approx(batched["requests_per_s"] * 10, rel=0.01)
    assert batched["ratio_points_per_s"] == pytest.approx(batched["points_per_s"] / baseline["points_per_s"], abs=0.01)
    assert 0 < baseline["p50_ms"] <= baseline["p99_ms"]


def test_the_apps_bench_reports_push_to_running_and_the_agents_memory() -> None:
    done = fieldhub("bench", "apps", "--runs", "1", "--json", timeout=170)
    assert done.returncode == 0, done.stderr[-2000:]
    result = orjson.loads(done.stdout.strip().splitlines()[-1])
    assert result["push_to_running_cached_s"] > 0 and result["push_to_running_cold_s"] > 0
    assert 0 < result["agent_rss_mb_no_apps"] <= result["agent_rss_mb_with_app"]
    assert result["rss_ratio"] == pytest.approx(
        result["agent_rss_mb_with_app"] / result["agent_rss_mb_no_apps"], abs=0.01
    )


@pytest.mark.parametrize("app", ["aiohttp", "stdlib"])
def test_the_link_bench_answers_every_request_both_ways(app: str) -> None:
    done = fieldhub("bench", "link", "--app", app, "--seconds", "1", "--clients", "4", "--json", timeout=170)
    assert done.returncode == 0, done.stderr[-2000:]
    result = orjson.loads(done.stdout.strip().splitlines()[-1])
    for way in ("direct", "link"):
        assert result[way]["errors"] == 0 and result[way]["requests"] > 0
        assert 0 < result[way]["p50_ms"] <= result[way]["p99_ms"]
    assert result["ratio"] == pytest.approx(result["link"]["rps"] / result["direct"]["rps"], abs=0.01)


def test_the_failover_bench_moves_the_app_and_restarts_it() -> None:
    done = fieldhub("bench", "failover", "--runs", "1", "--restarts", "1", "--json", timeout=170)
    assert done.returncode == 0, done.stderr[-2000:]
    result = orjson.loads(done.stdout.strip().splitlines()[-1])
    [failover] = result["failover_s"]
    # The node is called dead only once its heartbeat is node_dead_s old: no failover can come sooner.
    assert failover >= result["baseline_node_dead_s"]
    assert result["failover_ratio"] == pytest.approx(failover / result["baseline_node_dead_s"], abs=0.01)
    assert len(result["restart_s"]) == 1 and result["restart_median_s"] > 0


def test_the_takeover_bench_stores_a_killed_replicas_share_without_a_restart() -> None:
    done = fieldhub("bench", "takeover", "--messages", "400", "--json", timeout=170)
    assert done.returncode == 0, done.stderr[-2000:]
    result = orjson.loads(done.stdout.strip().splitlines()[-1])
    assert result["lost"] == 0
    # The dead replica's session held its share of the second run until the hub took it over.
    assert result["sessions_adopted"] == 1 and 0 < result["adopted_messages"] < 400
    ratio = result["after_kill_all_stored_s"] / result["baseline_all_stored_s"]
    assert result["ratio"] == pytest.approx(ratio, rel=0.05)  # of the rounded figures


def test_the_alarms_bench_evaluates_every_batch_and_times_the_webhook() -> None:
    done = fieldhub(*("bench", "alarms", "--messages", "1000", "--rounds", "1", "--alarms", "5", "--json"), timeout=170)
    assert done.returncode == 0, done.stderr[-2000:]
    result = orjson.loads(done.stdout.strip().splitlines()[-1])
    for mix in ("mix", "worst"):
        run = result[mix]
        assert run["batches_skipped"] == 0 and run["ratio"] > 0
        # v runs 0..499 per device: the "> 990" rule never holds; the worst mix's "!=" ones wait an hour: none raised.
        assert run["alarms_raised"] == [0]
    hook = result["threshold_to_webhook"]
    assert hook["alarms"] == 5 and 0 < hook["p50_ms"] <= hook["p99_ms"] <= hook["max_ms"]

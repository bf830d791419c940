"""``fieldhub bench placement`` runs on a small load and reports the figures docs/benchmarks.md quotes."""

from __future__ import annotations

import orjson
import pytest

from tests.helpers.process import fieldhub

pytestmark = pytest.mark.timeout(120)


def test_the_placement_bench_reports_its_figures() -> None:
    done = fieldhub("bench", "placement", "--nodes", "50", "--deployments", "50", "--json", timeout=100)
    assert done.returncode == 0, done.stderr[-2000:]
    result = orjson.loads(done.stdout.strip().splitlines()[-1])
    assert (result["nodes"], result["deployments"]) == (50, 50)
    assert result["placed"] + result["pending"] == 50
    assert result["placed"] > 0
    assert result["placement_ms"] > 0 and result["baseline_ms"] > 0
    assert result["placement_ms_per_decision"] == pytest.approx(result["placement_ms"] / 50, abs=0.01)
    assert result["ratio"] > 0  # from the unrounded times: the rounded ones of so small a run are too coarse


def test_the_placement_bench_prints_time_per_decision_and_in_all() -> None:
    done = fieldhub("bench", "placement", "--nodes", "50", "--deployments", "50", timeout=100)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "placement benchmark: 50 nodes x 50 deployments" in done.stdout
    assert "ms per decision" in done.stdout and "ratio" in done.stdout

"""``fieldhub bench connections`` end to end on a small swarm: every device held, refusals counted, nothing lost."""

from __future__ import annotations

import orjson
import pytest

from tests.helpers.process import fieldhub

pytestmark = pytest.mark.timeout(180)


def test_the_connections_bench_holds_every_device_counts_refusals_and_loses_nothing() -> None:
    # 50 devices with their own accounts, 3 more with a wrong password; three messages each.
    done = fieldhub(
        *("bench", "connections", "--devices", "50", "--bad", "3", "--interval", "1", "--duration", "3", "--json"),
        timeout=170,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = orjson.loads(done.stdout.strip().splitlines()[-1])
    assert (result["connected"], result["refused"], result["unanswered"]) == (50, 3, 0)
    assert result["errors"] == {"not authorized": 3}
    assert (result["published"], result["acknowledged"], result["stored"], result["lost"]) == (150, 150, 150, 0)
    assert result["dropped"] == 0
    assert result["limit"] is None
    assert result["connect_rate_per_s"] > 0 and result["stored_per_s"] > 0
    assert result["broker_rss_mb"] > 0 and result["hub_rss_mb"] > 0


def test_a_duration_shorter_than_the_interval_is_refused() -> None:
    done = fieldhub("bench", "connections", "--devices", "5", "--interval", "10", "--duration", "5")
    assert done.returncode == 2
    assert "--duration must be at least --interval" in done.stderr

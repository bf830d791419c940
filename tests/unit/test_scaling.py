"""Autoscaling decisions (pure) and the manifest's ``[scale]``."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from contracts.apps import AppManifest, Scale
from hub.deploy.scaling import decide, instance_loads
from hub.store.nodes import HeartbeatRecord

pytestmark = pytest.mark.timeout(10)

SCALE = Scale(min=1, max=3, cpu_percent=50, cooldown_s=60)
NOW = 1_795_000_000_000
LONG_AGO = NOW - 61_000


@pytest.mark.parametrize(
    ("current", "loads", "wanted"),
    [
        (1, [90.0], 2),  # above the target: one more
        (2, [60.0, 45.0], 3),  # the average (52.5) counts, not the busiest
        (3, [200.0, 200.0, 200.0], 3),  # never beyond max
        (2, [10.0, 14.0], 1),  # below half the target: one fewer
        (1, [0.0], 1),  # never below min
        (2, [30.0, 40.0], 2),  # between half and the target: stays
        (2, [25.0], 2),  # exactly half is not below half
        (2, [50.0], 2),  # exactly the target is not above it
        (2, [None, 90.0], 3),  # unknown loads are left out of the average
        (2, [None, None], 2),  # nothing known: no change
        (2, [], 2),  # no running instance: no change
        (5, [], 3),  # outside the bounds: to the nearest one, loads or not
    ],
)
def test_replicas_follow_the_average_cpu(current: int, loads: list[float | None], wanted: int) -> None:
    assert decide(current, loads, SCALE, LONG_AGO, NOW) == wanted
    assert decide(current, loads, SCALE, None, NOW) == wanted  # never changed: no cool-down


def test_nothing_changes_within_the_cool_down() -> None:
    assert decide(1, [90.0], SCALE, NOW - 59_999, NOW) == 1
    assert decide(1, [90.0], SCALE, NOW - 60_000, NOW) == 2
    assert decide(5, [], SCALE, NOW - 1_000, NOW) == 5  # not even back into the bounds


def test_loads_are_read_from_a_heartbeat_for_one_deployment() -> None:
    doc: dict[str, Any] = {
        "apps": [
            {"deployment": "dep-a", "replica": 0, "cpu_pct": 12.5, "rss_mb": 30},
            {"deployment": "dep-a", "replica": 1, "cpu_pct": None},
            {"deployment": "dep-b", "replica": 0, "cpu_pct": 99.0},
            {"deployment": "dep-a", "replica": 2, "cpu_pct": -1},  # not a valid load: skipped
        ]
    }
    assert instance_loads(HeartbeatRecord(doc, NOW), "dep-a") == {0: 12.5, 1: None}
    assert instance_loads(HeartbeatRecord({"apps": "many"}, NOW), "dep-a") == {}
    assert instance_loads(None, "dep-a") == {}


BASE = {"app": {"name": "climate", "version": "1.0.0"}, "runtime": {"command": ["python", "main.py"]}}


def test_the_manifest_carries_scale() -> None:
    manifest = AppManifest.model_validate({**BASE, "scale": {"min": 1, "max": 4, "cpu_percent": 70}})
    assert manifest.scale == Scale(min=1, max=4, cpu_percent=70, cooldown_s=60)
    assert AppManifest.model_validate(BASE).scale is None


@pytest.mark.parametrize(
    ("scale", "problem"),
    [
        ({"min": 0, "max": 2, "cpu_percent": 50}, "scale.min"),
        ({"min": 1, "max": 65, "cpu_percent": 50}, "scale.max"),
        ({"min": 3, "max": 2, "cpu_percent": 50}, "max (2) must be at least min (3)"),
        ({"min": 1, "max": 2, "cpu_percent": 0}, "scale.cpu_percent"),
        ({"min": 1, "max": 2, "cpu_percent": 1001}, "scale.cpu_percent"),
        ({"min": 1, "max": 2, "cpu_percent": 50, "cooldown_s": 0}, "scale.cooldown_s"),
        ({"min": 1, "max": 2, "cpu_percent": 50, "cooldown_s": 3601}, "scale.cooldown_s"),
        ({"min": 1, "max": 2}, "scale.cpu_percent"),
        ({"min": 1, "max": 2, "cpu_percent": 50, "memory": 1}, "scale.memory"),
    ],
)
def test_scale_refusals_name_the_problem(scale: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as refused:
        AppManifest.model_validate({**BASE, "scale": scale})
    assert problem in str(refused.value)

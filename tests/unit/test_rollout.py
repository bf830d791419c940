"""A rollout's next step from its instances (hub.deploy.rollout.step), without I/O."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.deploy.rollout import Rollout, entry_version, step, upgrade

pytestmark = pytest.mark.timeout(10)

T0 = 1_795_000_000_000
ROLLOUT = Rollout("1.0.0", "1.1.0", grace_s=10, started=T0, trial=("gw-a", 0))


def entries(*states: tuple[str, str], restarts: int = 0) -> list[dict[str, Any]]:
    """Instances on gw-a, replica by replica, each (version, status)."""
    return [
        {"node": "gw-a", "replica": i, "version": v, "status": s, "services": {"main": {"restarts": restarts}}}
        for i, (v, s) in enumerate(states)
    ]


def test_an_updated_instance_must_run_through_its_grace_period() -> None:
    starting = step(ROLLOUT, entries(("1.1.0", "starting"), ("1.0.0", "running")), T0 + 1)
    assert (starting.action, starting.rollout.healthy_from) == ("wait", None)
    seen = step(ROLLOUT, entries(("1.1.0", "running"), ("1.0.0", "running")), T0 + 2_000)
    assert (seen.action, seen.rollout.healthy_from) == ("wait", T0 + 2_000)
    still = step(seen.rollout, entries(("1.1.0", "running"), ("1.0.0", "running")), T0 + 11_999)
    assert (still.action, still.rollout) == ("wait", seen.rollout)
    proven = step(seen.rollout, entries(("1.1.0", "running"), ("1.0.0", "running")), T0 + 12_000)
    assert (proven.action, proven.rollout.trial, proven.rollout.healthy_from) == ("next", ("gw-a", 1), None)
    last = Rollout("1.0.0", "1.1.0", 10, T0, trial=("gw-a", 1), healthy_from=T0)
    assert step(last, entries(("1.1.0", "running"), ("1.1.0", "running")), T0 + 10_000).action == "done"


@pytest.mark.parametrize(("status", "restarts"), [("failed", 0), ("crashloop", 2), ("restarting", 1), ("running", 1)])
def test_a_fault_within_the_grace_period_rolls_back(status: str, restarts: int) -> None:
    found = entries(("1.1.0", status), ("1.0.0", "running"), restarts=restarts)
    found[0]["reason"] = "service main exited with code 1" if status != "running" else ""
    decided = step(ROLLOUT, found, T0 + 1)
    assert decided.action == "rollback"
    assert decided.reason == f"node gw-a: {found[0]['reason'] or status}"


def test_a_trial_instance_moved_away_passes_to_the_next() -> None:
    # Failover moved the trial instance to gw-b: a new entry without a version runs the deployment's, the new one.
    moved = [
        {"node": "gw-b", "replica": 0, "status": "deploying"},
        *entries(("1.0.0", "running"), ("1.0.0", "running")),
    ]
    moved.pop(1)
    decided = step(ROLLOUT, moved, T0 + 1)
    assert (decided.action, decided.rollout.trial) == ("next", ("gw-a", 1))


def test_the_rollout_and_its_entries_round_trip() -> None:
    placement = json.dumps({"reason": "placed", "rollout": ROLLOUT.doc()})
    assert Rollout.of(placement) == ROLLOUT
    assert Rollout.of(json.dumps({"reason": "placed"})) is None
    entry = {"node": "gw-a", "replica": 0, "status": "running", "since": T0, "services": {"main": {}}}
    assert entry_version(entry, "1.0.0") == "1.0.0"
    upgrade(entry, "1.1.0", "updating to 1.1.0")
    assert entry == {
        "node": "gw-a",
        "replica": 0,
        "status": "deploying",
        "version": "1.1.0",
        "reason": "updating to 1.1.0",
    }

"""The managed broker's pid file: a process is the recorded broker only by id, command line and start time."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.broker.mosquitto.pidfile import PidFile, PidRecord
from hub.processes import ProcessFacts

ARGV = ("/usr/sbin/mosquitto", "-c", "/data/mosquitto/mosquitto.conf")
RECORD = PidRecord(pid=4242, argv=ARGV, started=987_654, hub_pid=4200, hub_started=987_000)


def test_the_recorded_broker_is_recognised() -> None:
    assert RECORD.is_broker(ProcessFacts(ARGV, 987_654))


@pytest.mark.parametrize(
    "seen",
    [
        pytest.param(None, id="gone"),
        pytest.param(ProcessFacts(("/usr/bin/python3", "-m", "http.server"), 987_654), id="recycled-other-command"),
        pytest.param(ProcessFacts(ARGV, 1_234_567), id="recycled-later-start"),
        pytest.param(ProcessFacts((*ARGV[:-1], "/other/mosquitto.conf"), 987_654), id="other-config"),
    ],
)
def test_a_recycled_pid_is_not_the_broker(seen: ProcessFacts | None) -> None:
    assert not RECORD.is_broker(seen)


def test_without_a_start_time_nothing_is_recognised() -> None:
    # Written where /proc could not tell the start time: no process can be proven to be that broker.
    unknown = PidRecord(RECORD.pid, ARGV, None, RECORD.hub_pid, None)
    assert not unknown.is_broker(ProcessFacts(ARGV, 987_654))


def test_the_file_round_trips_and_bad_files_are_ignored(tmp_path: Path) -> None:
    pids = PidFile(tmp_path / "mosquitto.pid")
    assert pids.read() is None
    pids.path.write_bytes(RECORD.to_json())
    assert pids.read() == RECORD
    for bad in (b"4242\n", b"{}", b'{"pid": "x", "argv": [], "started": 1, "hub_pid": 1, "hub_started": 1}'):
        pids.path.write_bytes(bad)
        assert pids.read() is None
    pids.remove()
    pids.remove()  # already gone: fine
    assert not pids.path.exists()

"""The agent's spool on a real file: order, sequence numbers, acknowledgements, the cap, kill -9."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from edge_agent.spool import LOGS, TELEMETRY, Spool

pytestmark = pytest.mark.timeout(60)
NOW = 1_795_000_000_000


def _bodies(spool: Spool, limit: int = 10_000) -> list[dict[str, object]]:
    return [orjson.loads(row.body) for row in spool.batch(0, limit, 1 << 30)]


def test_readings_keep_order_and_get_per_key_sequence_numbers(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", max_bytes=1 << 30)
    spool.append_readings([("t", 1.0, NOW), ("h", 50.0, NOW), ("t", 2.0, NOW + 1)], NOW)
    spool.append_readings([("t", 3.0, NOW + 2)], NOW)
    bodies = _bodies(spool)
    assert [b["values"] for b in bodies] == [{"t": 1.0}, {"h": 50.0}, {"t": 2.0}, {"t": 3.0}]
    t_seqs = [b["seq"] for b in bodies if "t" in b["values"]]  # type: ignore[operator]
    assert t_seqs == [t_seqs[0], t_seqs[0] + 1, t_seqs[0] + 2]
    # A new key starts at the clock in microseconds: above anything a lost spool could have used.
    assert t_seqs[0] > NOW * 1000
    assert spool.depth == 4
    spool.close()


def test_ack_removes_only_acknowledged_rows_and_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    spool = Spool(path, max_bytes=1 << 30)
    spool.append_readings([("t", float(i), NOW + i) for i in range(10)], NOW)
    rows = spool.batch(0, 4, 1 << 20)
    spool.ack([r.id for r in rows])
    spool.ack([rows[0].id])  # acknowledged twice: no effect
    last_seq = orjson.loads(spool.batch(0, 100, 1 << 20)[-1].body)["seq"]
    spool.close()
    again = Spool(path, max_bytes=1 << 30)
    assert again.depth == 6
    assert [b["values"] for b in _bodies(again)] == [{"t": float(i)} for i in range(4, 10)]
    again.append_readings([("t", 99.0, NOW)], NOW)
    assert orjson.loads(again.batch(0, 100, 1 << 20)[-1].body)["seq"] == last_seq + 1
    again.close()


def test_batches_are_of_one_kind_and_within_limits(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", max_bytes=1 << 30)
    spool.append_readings([("t", 1.0, NOW), ("t", 2.0, NOW)], NOW)
    spool.append_logs([{"ts": NOW, "level": "INFO", "message": "hello"}], NOW)
    spool.append_readings([("t", 3.0, NOW)], NOW)
    first = spool.batch(0, 100, 1 << 20)
    assert [r.kind for r in first] == [TELEMETRY, TELEMETRY]
    second = spool.batch(first[-1].id, 100, 1 << 20)
    assert [r.kind for r in second] == [LOGS]
    assert len(spool.batch(second[-1].id, 100, 1 << 20)) == 1
    # The byte limit cuts a batch, but a first row larger than the limit still goes alone.
    assert len(spool.batch(0, 100, 10)) == 1
    assert spool.batch(10_000, 100, 1 << 20) == []
    spool.close()


def test_the_cap_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    cap = 256 * 1024
    spool = Spool(tmp_path / "spool.db", max_bytes=cap)
    total = 0
    for chunk in range(40):
        total += spool.append_readings([("k", float(chunk * 500 + i), NOW) for i in range(500)], NOW)
    stats = spool.stats()
    assert stats.bytes_used <= cap
    assert stats.dropped > 0 and stats.depth + stats.dropped == total
    values = [b["values"]["k"] for b in _bodies(spool, 100_000)]  # type: ignore[index]
    # What remains is the newest, contiguous and in order.
    assert values == [float(v) for v in range(total - len(values), total)]
    spool.close()
    assert Spool(tmp_path / "spool.db", max_bytes=cap).stats().dropped == stats.dropped


_WRITER = """
import sys
from pathlib import Path
from edge_agent.spool import Spool
spool = Spool(Path(sys.argv[1]), max_bytes=1 << 30)
i = 0
while True:
    spool.append_readings([("n", float(i), 1795000000000)], 1795000000000)
    print(i, flush=True)
    i += 1
"""


def test_every_committed_reading_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    confirmed = -1
    for line in writer.stdout:
        confirmed = int(line)
        if confirmed >= 300:
            break
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    writer.stdout.close()
    spool = Spool(path, max_bytes=1 << 30)
    values = [b["values"]["n"] for b in _bodies(spool, 100_000)]  # type: ignore[index]
    # Everything reported as committed is there, in order, with nothing torn after it.
    assert values[: confirmed + 1] == [float(i) for i in range(confirmed + 1)]
    assert values == [float(i) for i in range(len(values))]
    spool.close()

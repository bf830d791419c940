"""The collector settings a started process runs with (in a child: they are process-wide)."""

from __future__ import annotations

import subprocess
import sys

from cloud import collector


def test_settling_freezes_start_up_objects_and_raises_the_young_threshold() -> None:
    code = (
        "import gc; from cloud import collector; collector.settle_after_start(); "
        "print(gc.get_threshold()[0], gc.get_freeze_count(), gc.isenabled())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    young, frozen, enabled = out.stdout.split()
    assert int(young) == collector.YOUNG_THRESHOLD
    assert int(frozen) > 1000  # the interpreter and the imported modules
    assert enabled == "True"  # cycles made later are still collected

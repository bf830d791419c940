"""The contracts listed in docs/devices.md are the ones ``fieldhub contracts export`` and the API serve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from contracts.schemas import SCHEMAS

pytestmark = pytest.mark.timeout(30)
DEVICES_MD = Path(__file__).resolve().parents[2] / "docs" / "devices.md"


def test_docs_devices_lists_every_contract() -> None:
    text = DEVICES_MD.read_text()
    table = text[text.index("| contract | what it describes |") :].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines()[2:] if line.startswith("|")]
    listed = {name for row in rows for name in re.findall(r"`([a-z-]+)`", row.split("|")[1])}
    assert listed == set(SCHEMAS)

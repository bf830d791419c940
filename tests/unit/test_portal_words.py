"""The portal's rule form offers the heartbeat figures and template fields the API accepts (the OpenAPI document
does not list them, so ui/src/alarms/words.ts keeps a copy; this keeps the copy true)."""

from __future__ import annotations

import re
from pathlib import Path

from contracts.alarms import HEARTBEAT_FIGURES, TEMPLATE_FIELDS

WORDS = Path(__file__).parents[2] / "ui" / "src" / "alarms" / "words.ts"


def listed(name: str) -> list[str]:
    found = re.search(rf"export const {name} = \[(.*?)\] as const;", WORDS.read_text(), re.DOTALL)
    assert found, f"{name} is not a list in {WORDS}"
    return re.findall(r'"([^"]+)"', found.group(1))


def test_the_rule_form_offers_the_figures_and_fields_the_api_takes() -> None:
    assert listed("HEARTBEAT_FIGURES") == list(HEARTBEAT_FIGURES)
    assert sorted(listed("TEMPLATE_FIELDS")) == sorted(TEMPLATE_FIELDS)

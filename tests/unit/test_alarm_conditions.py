"""A rule's conditions as functions of a value: each kind, hysteresis, explicit clears, types, templates."""

from __future__ import annotations

import random
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.alarms import Rule, RuleCreate
from hub.alarms.conditions import compile_rule, render, threshold_text
from hub.alarms.rulebook import Compiled, KeyRules


def rule(**fields: Any) -> Rule:
    return Rule.model_validate(
        {"id": "r", "tenant": "t", "created": 0, "updated": 0, "name": "R", "selector": {}, **fields}
    )


@pytest.mark.parametrize(
    ("op", "raising", "quiet"),
    [
        (">", [11, 10.5], [10, 9]),
        (">=", [10], [9.99]),
        ("<", [9], [10]),
        ("<=", [10], [10.01]),
        ("==", [10], [10.1]),
        ("!=", [3], [10]),
    ],
)
def test_every_operator_raises_and_clears_on_numbers(op: str, raising: list[float], quiet: list[float]) -> None:
    conditions = compile_rule(rule(key="k", kind="threshold", op=op, value=10))
    assert all(conditions.raises(v) for v in raising)
    assert not any(conditions.raises(v) for v in quiet)
    assert all(conditions.clears(v) for v in quiet)


def test_orderings_never_hold_for_booleans_or_text() -> None:
    conditions = compile_rule(rule(key="k", kind="threshold", op=">", value=0))
    assert not conditions.raises(True) and not conditions.raises("5")
    assert not conditions.clears("text"), "a text reading cleared a numeric alarm"


def test_equality_on_text_and_booleans_compares_like_with_like() -> None:
    door = compile_rule(rule(key="door", kind="threshold", op="==", value="open"))
    assert door.raises("open") and not door.raises("closed") and door.clears("closed")
    flag = compile_rule(rule(key="flag", kind="threshold", op="==", value=True))
    assert flag.raises(True) and not flag.raises(1), "a number equal to True raised a boolean rule"


def test_hysteresis_keeps_the_alarm_until_the_value_is_back_by_that_much() -> None:
    high = compile_rule(rule(key="k", kind="threshold", op=">", value=-10, hysteresis=2))
    assert not high.clears(-10.5) and not high.clears(-11.9) and high.clears(-12)
    low = compile_rule(rule(key="k", kind="threshold", op="<", value=5, hysteresis=1))
    assert not low.clears(5.5) and low.clears(6)


def test_ranges_outside_inside_and_their_hysteresis() -> None:
    outside = compile_rule(rule(key="k", kind="range", low=2, high=8, hysteresis=0.5))
    assert outside.raises(1.9) and outside.raises(8.1) and not outside.raises(2) and not outside.raises(8)
    assert not outside.clears(2.2) and outside.clears(2.5) and outside.clears(7.5) and not outside.clears(7.9)
    inside = compile_rule(rule(key="k", kind="range", low=2, high=8, inside=True))
    assert inside.raises(5) and not inside.raises(9) and inside.clears(9)


def test_an_explicit_clear_condition_replaces_the_raise_condition() -> None:
    conditions = compile_rule(rule(key="k", kind="threshold", op=">", value=30, clear={"op": "<", "value": 20}))
    assert conditions.raises(31) and not conditions.clears(25) and conditions.clears(19)


def test_threshold_texts() -> None:
    assert threshold_text(rule(key="k", kind="threshold", op=">", value=-10)) == "> -10"
    assert threshold_text(rule(key="k", kind="range", low=2, high=8)) == "outside [2, 8]"
    assert threshold_text(rule(key="k", kind="rate", op=">", value=5)) == "> 5 per s"
    assert threshold_text(rule(kind="no_data", silence_s=60)) == "no data for 60 s"
    assert threshold_text(rule(key="k", kind="threshold", op="==", value=True)) == "== true"


def test_templates_fill_known_fields_and_keep_going_when_a_format_does_not_fit() -> None:
    assert render("{device}: {value:.1f} {unit}", {"device": "f1", "value": -3.14159, "unit": "°C"}) == "f1: -3.1 °C"
    assert render("{value:.1f}!", {"value": "open"}) == "open!"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"kind": "threshold", "key": "k", "op": ">", "value": 1, "profile": "p"}, "either a profile or a selector"),
        ({"kind": "threshold", "op": ">", "value": 1}, "needs a key"),
        ({"kind": "threshold", "key": "k", "op": ">"}, "needs op and value"),
        ({"kind": "threshold", "key": "k", "op": ">", "value": "hot"}, "value must be a number"),
        ({"kind": "range", "key": "k", "low": 5, "high": 1}, "low <= high"),
        ({"kind": "no_data"}, "needs silence_s"),
        ({"kind": "threshold", "key": "k", "op": ">", "value": 1, "silence_s": 5}, "silence_s belongs"),
        (
            {"kind": "threshold", "key": "k", "op": ">", "value": 1, "hysteresis": 1, "clear": {"op": "<", "value": 0}},
            "not both",
        ),
        ({"kind": "threshold", "source": "heartbeat", "key": "mood", "op": ">", "value": 1}, "heartbeat rule watches"),
        ({"kind": "threshold", "key": "k", "op": ">", "value": 1, "message": "{value.__class__}"}, "unknown field"),
        ({"kind": "threshold", "key": "k", "op": ">", "value": 1, "message": "{secret}"}, "unknown field {secret}"),
        ({"kind": "threshold", "key": "k", "op": ">", "value": 1, "message": "{"}, "not a template"),
    ],
)
def test_rules_that_do_not_fit_together_are_refused_with_the_reason(fields: dict[str, Any], problem: str) -> None:
    body = {"name": "R", "selector": {}, **fields}
    if "profile" in fields:
        body["profile"] = fields["profile"]
    with pytest.raises(ValidationError, match=problem.replace("{", r"\{").replace("[", r"\[")):
        RuleCreate.model_validate(body)


def test_the_rules_a_reading_concerns_are_exactly_those_whose_condition_holds_plus_the_untested() -> None:
    rng = random.Random(7)
    shapes: list[dict[str, Any]] = [
        {"kind": "threshold", "op": op, "value": rng.choice([-5, 0, 2.5, 10, 10, 99])}
        for op in (">", ">=", "<", "<=", "==", "!=") * 8
    ]
    shapes += [{"kind": "range", "low": -1, "high": 3}, {"kind": "rate", "op": ">", "value": 1}]
    compiled = [
        Compiled(r, compile_rule(r), "") for r in (rule(key="k", id=f"r{i}", **shape) for i, shape in enumerate(shapes))
    ]
    rules = KeyRules(compiled)
    for value in [-6, -5, 0, 1, 2.5, 3, 10, 10.0, 50, 99, 100, True, "text"]:
        concerned = {c.rule.id for c in rules.holding(value)}
        holds = {c.rule.id for c in compiled if c.conditions.raises(value)}
        untested = {c.rule.id for c in rules.always}
        assert holds <= concerned, f"a rule that holds for {value!r} was left out"
        assert concerned - holds <= untested, f"a rule that does not hold for {value!r} was handed out"

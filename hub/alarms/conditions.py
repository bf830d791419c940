"""A rule's conditions as plain functions of a value: when it raises, when its alarm clears, the message it tells.

Evaluation runs on every stored reading a rule watches, so a rule is turned into these functions once
(:func:`compile_rule`) and evaluating is a call each. Comparisons that need numbers never hold for a boolean or a
string (a threshold on a key that sometimes carries text neither raises nor clears on the text).
"""

from __future__ import annotations

import operator
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contracts.alarms import Operator, Rule, RuleKind, Threshold
from contracts.telemetry import Value

Test = Callable[[Value], bool]
_COMPARE: dict[Operator, Callable[[Any, Any], bool]] = {
    Operator.GT: operator.gt,
    Operator.GE: operator.ge,
    Operator.LT: operator.lt,
    Operator.LE: operator.le,
    Operator.EQ: operator.eq,
    Operator.NE: operator.ne,
}
_ORDERING = (Operator.GT, Operator.GE, Operator.LT, Operator.LE)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def comparison(op: Operator, threshold: Threshold) -> Test:
    """``value op threshold``; an ordering holds for numbers only, equality for a value of the threshold's type."""
    compare = _COMPARE[op]
    if op in _ORDERING or is_number(threshold):

        def numeric(value: Value) -> bool:
            return is_number(value) and compare(value, threshold)

        return numeric

    def same_type(value: Value) -> bool:
        return type(value) is type(threshold) and compare(value, threshold)

    return same_type


def _never(value: Value) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Conditions:
    """When a rule raises and when its open alarm clears, for one value (for rate rules: one change per second)."""

    raises: Test
    clears: Test


def compile_rule(rule: Rule) -> Conditions:
    """The conditions of a threshold, range or rate rule (a no-data rule is timed, not tested on values)."""
    if rule.kind is RuleKind.NO_DATA:
        return Conditions(_never, _never)
    if rule.kind is RuleKind.RANGE:
        raises = _range(rule)
    else:
        assert rule.op is not None and rule.value is not None  # the model's checks require them
        raises = comparison(rule.op, rule.value)
    return Conditions(raises, _clear(rule, raises))


def _range(rule: Rule) -> Test:
    assert rule.low is not None and rule.high is not None
    low, high = rule.low, rule.high
    if rule.inside:
        return lambda value: is_number(value) and low <= value <= high  # type: ignore[operator]
    return lambda value: is_number(value) and (value < low or value > high)  # type: ignore[operator]


def _clear(rule: Rule, raises: Test) -> Test:
    """An explicit clear condition; else the raise condition no longer holding, ``hysteresis`` beyond it."""
    if rule.clear is not None:
        return comparison(rule.clear.op, rule.clear.value)
    if not rule.hysteresis:
        return lambda value: (is_number(value) or not _numeric(rule)) and not raises(value)
    return _range_hysteresis(rule) if rule.kind is RuleKind.RANGE else _threshold_hysteresis(rule)


def _range_hysteresis(rule: Rule) -> Test:
    assert rule.low is not None and rule.high is not None
    low, high, h = rule.low, rule.high, rule.hysteresis
    if rule.inside:
        return lambda value: is_number(value) and (value < low - h or value > high + h)  # type: ignore[operator]
    return lambda value: is_number(value) and low + h <= value <= high - h  # type: ignore[operator]


def _threshold_hysteresis(rule: Rule) -> Test:
    assert rule.op is not None and is_number(rule.value)
    limit, h = float(rule.value), rule.hysteresis  # type: ignore[arg-type]
    if rule.op in (Operator.GT, Operator.GE):
        return comparison(Operator.LE, limit - h)
    if rule.op in (Operator.LT, Operator.LE):
        return comparison(Operator.GE, limit + h)
    return lambda value: is_number(value) and abs(value - limit) >= h  # type: ignore[operator]


def _numeric(rule: Rule) -> bool:
    return rule.kind is not RuleKind.THRESHOLD or rule.op in _ORDERING or is_number(rule.value)


def threshold_text(rule: Rule) -> str:
    """The rule's limit in words, for messages: ``> -10``, ``outside [2, 8]``, ``no data for 60 s``."""
    if rule.kind is RuleKind.RANGE:
        return f"{'inside' if rule.inside else 'outside'} [{rule.low:g}, {rule.high:g}]"
    if rule.kind is RuleKind.NO_DATA:
        return f"no data for {rule.silence_s:g} s"
    assert rule.op is not None
    per_second = " per s" if rule.kind is RuleKind.RATE else ""
    value = f"{rule.value:g}" if is_number(rule.value) else str(rule.value).lower()
    return f"{rule.op.value} {value}{per_second}"


def render(template: str, fields: dict[str, object]) -> str:
    """``template`` filled in; a field whose format does not fit its value (``{value:.1f}`` of a text) is put
    plainly rather than failing the alarm. Templates are checked when a rule is saved to name known fields only,
    so no attribute or item of a value can be reached through them."""
    parts = []
    for literal, name, spec, _conversion in string.Formatter().parse(template):
        parts.append(literal)
        if name is None:
            continue
        value = fields.get(name, "")
        try:
            parts.append(format(value, spec or ""))
        except (TypeError, ValueError):
            parts.append(str(value))
    return "".join(parts)

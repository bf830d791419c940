"""Query parameters: times and bucket intervals, with errors that say what to send."""

from __future__ import annotations

import pytest

from cloud.api.params import parse_interval, parse_time
from contracts.telemetry import MAX_TS_MS, MIN_TS_MS
from hub.errors import InvalidInput


def test_times_accept_epoch_ms_and_rfc3339_with_zone() -> None:
    assert parse_time(None, "start") is None
    assert parse_time("", "start") is None
    assert parse_time("1795000000000", "start") == 1_795_000_000_000
    assert parse_time("2026-11-22T10:00:00Z", "start") == 1_795_341_600_000
    assert parse_time("2026-11-22T11:00:00.5+01:00", "start") == 1_795_341_600_500


@pytest.mark.parametrize(("raw", "message"), [("yesterday", "not RFC 3339"), ("2026-11-22T10:00:00", "no time zone")])
def test_bad_times_name_the_parameter(raw: str, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_time(raw, "end")
    assert info.value.message.startswith("end: ") and message in info.value.message


def test_times_at_the_ends_of_the_range() -> None:
    assert parse_time(str(MIN_TS_MS), "start") == parse_time("2000-01-01T00:00:00Z", "start") == MIN_TS_MS
    assert parse_time(str(MAX_TS_MS), "end") == parse_time("9999-12-31T23:59:59.999Z", "end") == MAX_TS_MS
    assert parse_time(f"000{MIN_TS_MS}", "start") == MIN_TS_MS


@pytest.mark.parametrize(
    "raw",
    [
        "0",
        str(MIN_TS_MS - 1),
        str(MAX_TS_MS + 1),
        "99999999999999999999999",
        "9" * 5000,
        "1999-12-31T23:59:59.999Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59-01:00",
    ],
)
def test_times_out_of_range_name_the_parameter(raw: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_time(raw, "start")
    assert info.value.message.startswith("start: must be from 2000-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z")


@pytest.mark.parametrize("raw", ["\N{SUPERSCRIPT TWO}", "\N{ARABIC-INDIC DIGIT ONE}" * 13, "-1", " 1795000000000"])
def test_times_that_are_not_ascii_digits_are_read_as_rfc3339(raw: str) -> None:
    with pytest.raises(InvalidInput, match=r"^start: .*not RFC 3339"):
        parse_time(raw, "start")


@pytest.mark.parametrize(
    ("raw", "ms"), [("500ms", 500), ("60s", 60_000), ("5m", 300_000), ("1h", 3_600_000), ("1d", 86_400_000)]
)
def test_intervals(raw: str, ms: int) -> None:
    assert parse_interval(raw) == ms


@pytest.mark.parametrize("raw", ["", "60", "s", "1.5s", "-1s", "0s", "367d", "1w", "9999999999s"])
def test_bad_intervals(raw: str) -> None:
    with pytest.raises(InvalidInput, match="interval"):
        parse_interval(raw)

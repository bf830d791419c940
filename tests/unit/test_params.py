"""Query parameters: times and bucket intervals, with errors that say what to send."""

from __future__ import annotations

import pytest

from cloud.api.params import parse_interval, parse_time
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


@pytest.mark.parametrize(
    ("raw", "ms"), [("500ms", 500), ("60s", 60_000), ("5m", 300_000), ("1h", 3_600_000), ("1d", 86_400_000)]
)
def test_intervals(raw: str, ms: int) -> None:
    assert parse_interval(raw) == ms


@pytest.mark.parametrize("raw", ["", "60", "s", "1.5s", "-1s", "0s", "367d", "1w", "9999999999s"])
def test_bad_intervals(raw: str) -> None:
    with pytest.raises(InvalidInput, match="interval"):
        parse_interval(raw)

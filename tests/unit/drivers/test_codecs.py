"""Serial line codecs: CSV, JSON lines, regex and NMEA 0183 (checksums, GGA, RMC)."""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.telemetry import to_epoch_ms
from device_drivers.base import Sample
from device_drivers.codecs import CsvCodec, JsonLinesCodec, LineRejected, NmeaCodec, RegexCodec, nmea_checksum


def sentence(body: str) -> str:
    return f"${body}*{nmea_checksum(body)}"


def test_known_sentences_decode() -> None:
    gga = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
    fields = {s.field: s.value for s in NmeaCodec().decode(gga)}
    assert fields["latitude"] == pytest.approx(48 + 7.038 / 60)
    assert fields["longitude"] == pytest.approx(11 + 31.0 / 60)
    assert (fields["altitude"], fields["fix_quality"], fields["satellites"]) == (545.4, 1.0, 8.0)
    rmc = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"
    decoded = NmeaCodec().decode(rmc)
    by_field = {s.field: s for s in decoded}
    assert by_field["speed_mps"].value == pytest.approx(22.4 * 0.514444, abs=1e-3)
    assert by_field["course"].value == 84.4
    assert by_field["latitude"].ts == to_epoch_ms(datetime(1994, 3, 23, 12, 35, 19, tzinfo=UTC))


def test_void_fixes_and_other_sentences() -> None:
    assert NmeaCodec().decode(sentence("GPRMC,123519,V,,,,,,,230394,,")) == [Sample("fix_quality", 0.0)]
    assert NmeaCodec().decode(sentence("GNGGA,123519,,,,,0,00,,,M,,M,,")) == [Sample("fix_quality", 0.0)]
    assert NmeaCodec().decode(sentence("GPGSV,3,1,11,03,03,111,00")) == []


@pytest.mark.parametrize(
    "line",
    [
        "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48",  # wrong checksum
        "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",  # no checksum
        "GPGGA,123519*00",
        sentence("GPGGA,123519,4807.038,X,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"),
        sentence("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,999999,003.1,W"),
        sentence("GPGGA,1"),
    ],
)
def test_bad_sentences_are_refused(line: str) -> None:
    with pytest.raises(LineRejected):
        NmeaCodec().decode(line)


coords = st.tuples(
    st.integers(0, 89),
    st.floats(0, 59.999, allow_nan=False),
    st.sampled_from("NS"),
    st.integers(0, 179),
    st.floats(0, 59.999, allow_nan=False),
    st.sampled_from("EW"),
)


@given(coords, st.datetimes(min_value=datetime(1980, 1, 1), max_value=datetime(2079, 12, 31)))
def test_rmc_round_trip(coord: tuple[int, float, str, int, float, str], when: datetime) -> None:
    lat_d, lat_m, ns, lon_d, lon_m, ew = coord
    body = (
        f"GNRMC,{when:%H%M%S}.{when.microsecond // 10_000:02d},A,{lat_d:02d}{lat_m:07.4f},{ns},"
        f"{lon_d:03d}{lon_m:07.4f},{ew},1.5,90.0,{when:%d%m%y},,"
    )
    fields = {s.field: s for s in NmeaCodec().decode(sentence(body))}
    latitude = (lat_d + float(f"{lat_m:07.4f}") / 60) * (-1 if ns == "S" else 1)
    longitude = (lon_d + float(f"{lon_m:07.4f}") / 60) * (-1 if ew == "W" else 1)
    assert fields["latitude"].value == pytest.approx(latitude)
    assert fields["longitude"].value == pytest.approx(longitude)
    expected = to_epoch_ms(when.replace(microsecond=(when.microsecond // 10_000) * 10_000, tzinfo=UTC))
    assert fields["latitude"].ts == expected


@given(st.text(max_size=120))
def test_any_text_is_decoded_or_refused(text: str) -> None:
    for codec in (NmeaCodec(), JsonLinesCodec(), CsvCodec(["a", "b"])):
        with suppress(LineRejected):  # a refusal is a fine answer; any other exception fails
            codec.decode(text)


@given(st.text(min_size=1, max_size=60))
def test_a_corrupted_checksum_is_always_refused(body: str) -> None:
    body = body.replace("*", "").replace("$", "")
    good = nmea_checksum(body)
    bad = f"{(int(good, 16) ^ 0x01):02X}"
    with pytest.raises(LineRejected):
        NmeaCodec().decode(f"${body}*{bad}")


def test_csv_with_header_and_fixed_columns() -> None:
    codec = CsvCodec()
    assert codec.decode("temp,hum,label") == []
    assert codec.decode("21.5, 40,kitchen") == [Sample("temp", 21.5), Sample("hum", 40.0), Sample("label", "kitchen")]
    with pytest.raises(LineRejected, match="2 columns, expected 3"):
        codec.decode("1,2")
    assert CsvCodec(["a"], delimiter=";").decode("7") == [Sample("a", 7.0)]
    assert CsvCodec().decode("1,2") == [Sample("c0", 1.0), Sample("c1", 2.0)]


def test_json_lines() -> None:
    got = JsonLinesCodec().decode('{"t": 21, "ok": true, "mode": "eco", "nested": {"x": 1}, "n": null}')
    assert got == [Sample("t", 21.0), Sample("ok", True), Sample("mode", "eco")]
    for bad in ("[1, 2]", "{not json", "42"):
        with pytest.raises(LineRejected):
            JsonLinesCodec().decode(bad)


def test_regex() -> None:
    codec = RegexCodec(r"T=(?P<temp>-?[0-9.]+)C H=(?P<hum>[0-9.]+)%")
    assert codec.decode("sensor 3: T=-4.5C H=81%") == [Sample("temp", -4.5), Sample("hum", 81.0)]
    with pytest.raises(LineRejected):
        codec.decode("garbage")
    with pytest.raises(ValueError, match="named groups"):
        RegexCodec(r"T=([0-9.]+)")
    with pytest.raises(ValueError, match="invalid pattern"):
        RegexCodec(r"(?P<x>")

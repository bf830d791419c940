"""Sensor processing (keys, scale, deadband), the driver registry, and the simulated and system drivers."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from device_drivers.base import DriverConfigError, DriverUnavailable, NotWritable, Sample
from device_drivers.registry import create_driver
from device_drivers.sensor import Processor, SensorReading, SensorSpec
from device_drivers.simulated import SimulatedDriver, SimulatedOptions
from device_drivers.system import SystemDriver, SystemOptions


def spec(**fields: object) -> SensorSpec:
    return SensorSpec.model_validate({"name": "probe", "driver": "simulated", **fields})


def test_keys_scale_and_offset() -> None:
    processor = Processor(spec(scale=0.1, offset=-40))
    out = processor.process([Sample(None, 650), Sample("hum", 400.0, ts=5), Sample("ok", True)], now_ms=9)
    assert out == [
        SensorReading("probe", pytest.approx(25.0), 9),  # type: ignore[arg-type]
        SensorReading("probe.hum", pytest.approx(0.0), 5),  # type: ignore[arg-type]
        SensorReading("probe.ok", True, 9),
    ]
    # A field the hub would refuse as a key is skipped, not the whole read.
    assert processor.process([Sample("bad key/x", 1.0)], now_ms=1) == []


def test_deadband_reports_changes_and_at_least_every_max_silence() -> None:
    processor = Processor(spec(deadband=0.5, max_silence_s=10))
    values = [(0, 20.0), (1000, 20.2), (2000, 20.6), (3000, 20.3), (13_000, 20.3), (14_000, 20.4)]
    reported = [ts for ts, v in values if processor.process([Sample(None, v)], now_ms=ts)]
    assert reported == [0, 2000, 13_000]
    door = Processor(spec(deadband=1))
    assert [bool(door.process([Sample(None, v)], now_ms=i)) for i, v in enumerate([True, True, False])] == [
        True,
        False,
        True,
    ]


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"name": "has.dot"}, "name"),
        ({"name": "x", "interval": 0}, "interval"),
        ({"name": "x", "deadband": -1}, "deadband"),
        ({"name": "x", "colour": "red"}, "colour"),
    ],
)
def test_sensor_specs_are_validated(fields: dict[str, object], where: str) -> None:
    with pytest.raises(ValidationError, match=where):
        SensorSpec.model_validate({"driver": "simulated", **fields})


def test_registry_refusals_name_the_problem() -> None:
    with pytest.raises(DriverConfigError, match=r"unknown driver 'nosuch'; known: .*serial"):
        create_driver("nosuch", {})
    with pytest.raises(DriverConfigError, match="serial: baudrate: Input should be a valid integer"):
        create_driver("serial", {"port": "/dev/x", "baudrate": "fast"})
    with pytest.raises(DriverConfigError, match="format 'regex' needs pattern"):
        create_driver("serial", {"port": "/dev/x", "format": "regex"})
    with pytest.raises(DriverConfigError, match="simulated: colour: Extra inputs"):
        create_driver("simulated", {"colour": 1})


async def test_simulated_kinds(tmp_path: Path) -> None:
    sine = SimulatedDriver(SimulatedOptions(kind="sine", amplitude=2, period_s=4, offset=1), clock=lambda: 1.0)
    assert await sine.read() == [Sample(None, pytest.approx(3.0))]  # type: ignore[arg-type]
    walk = SimulatedDriver(SimulatedOptions(kind="random_walk", start=0, step=1, min=-0.5, max=0.5, seed=7))
    values = [(await walk.read())[0].value for _ in range(50)]
    assert all(-0.5 <= v <= 0.5 for v in values)  # type: ignore[operator]
    again = SimulatedDriver(SimulatedOptions(kind="random_walk", start=0, step=1, min=-0.5, max=0.5, seed=7))
    assert [(await again.read())[0].value for _ in range(50)] == values
    with pytest.raises(NotWritable):
        await walk.write(1)
    data = tmp_path / "replay.csv"
    data.write_text("temp,label\n1.5,a\n2.5,b\n")
    replay = SimulatedDriver(SimulatedOptions(kind="replay", file=data, loop=False))
    await replay.open()
    assert [await replay.read() for _ in range(3)] == [[Sample("temp", 1.5)], [Sample("temp", 2.5)], []]
    missing = SimulatedDriver(SimulatedOptions(kind="replay", file=tmp_path / "nope.csv"))
    with pytest.raises(DriverUnavailable):
        await missing.open()
    with pytest.raises(ValidationError, match="needs file"):
        SimulatedOptions(kind="replay")


async def test_system_metrics_from_kernel_files(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/loadavg").write_text("0.42 0.30 0.20 1/123 4567\n")
    (tmp_path / "proc/meminfo").write_text("MemTotal:  1000000 kB\nMemFree:  100000 kB\nMemAvailable:  250000 kB\n")
    (tmp_path / "proc/uptime").write_text("3600.50 7000.00\n")
    (tmp_path / "sys/class/thermal/thermal_zone0").mkdir(parents=True)
    (tmp_path / "sys/class/thermal/thermal_zone0/temp").write_text("48312\n")
    driver = SystemDriver(SystemOptions(root=tmp_path, disk_path=tmp_path))
    await driver.open()
    fields = {s.field: s.value for s in await driver.read()}
    assert fields["cpu_temp"] == pytest.approx(48.312) and fields["load1"] == 0.42
    assert fields["mem_used_pct"] == 75.0 and fields["uptime_s"] == 3600.5
    assert 0 <= fields["disk_used_pct"] <= 100  # type: ignore[operator]
    with pytest.raises(DriverUnavailable, match="not a Linux system"):
        await SystemDriver(SystemOptions(root=tmp_path / "empty")).open()

"""DS18B20 through a sysfs tree written in the kernel's format."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_drivers.base import DriverUnavailable, Sample
from device_drivers.onewire import OneWireDriver, OneWireOptions

GOOD = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"
BAD_CRC = "72 01 4b 46 7f ff 0e 10 57 : crc=00 NO\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"
RESET = "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n"
NEGATIVE = "5e ff 4b 46 7f ff 02 10 d6 : crc=d6 YES\n5e ff 4b 46 7f ff 02 10 d6 t=-10125\n"


def sensor(base: Path, device_id: str, content: str) -> None:
    (base / device_id).mkdir(parents=True, exist_ok=True)
    (base / device_id / "w1_slave").write_text(content)


async def test_one_sensor_and_all_sensors(tmp_path: Path) -> None:
    sensor(tmp_path, "28-0000075565aa", GOOD)
    sensor(tmp_path, "28-00000755bbbb", NEGATIVE)
    one = OneWireDriver(OneWireOptions(device_id="28-0000075565aa", base_path=tmp_path))
    await one.open()
    assert await one.read() == [Sample(None, 23.125)]
    every = OneWireDriver(OneWireOptions(base_path=tmp_path))
    await every.open()
    assert await every.read() == [Sample("28-0000075565aa", 23.125), Sample("28-00000755bbbb", -10.125)]


async def test_bad_crc_and_power_on_value_are_skipped_and_counted(tmp_path: Path) -> None:
    sensor(tmp_path, "28-0000075565aa", BAD_CRC)
    driver = OneWireDriver(OneWireOptions(device_id="28-0000075565aa", base_path=tmp_path))
    await driver.open()
    assert await driver.read() == []
    sensor(tmp_path, "28-0000075565aa", RESET)
    assert await driver.read() == []
    assert driver.skipped == 2
    sensor(tmp_path, "28-0000075565aa", GOOD)
    assert await driver.read() == [Sample(None, 23.125)]


async def test_missing_sensor_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(DriverUnavailable, match="w1-gpio"):
        await OneWireDriver(OneWireOptions(base_path=tmp_path)).open()
    driver = OneWireDriver(OneWireOptions(device_id="28-0000075565aa", base_path=tmp_path))
    with pytest.raises(DriverUnavailable):
        await driver.open()

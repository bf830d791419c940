"""The serial driver on a real pseudo-terminal: lines in, writes out, bad lines, unplug and replug."""

from __future__ import annotations

import asyncio
import os
import tty
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from device_drivers.base import DriverUnavailable, Sample
from device_drivers.registry import create_driver
from device_drivers.serial_line import SerialDriver

pytestmark = pytest.mark.timeout(30)


@contextmanager
def pty_pair() -> Iterator[tuple[int, str]]:
    """A pseudo-terminal: the test writes to the master, the driver opens the slave's path."""
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    try:
        yield master, os.ttyname(slave)
    finally:
        for fd in (master, slave):
            with suppress(OSError):  # already closed by a test that "unplugs" the adapter
                os.close(fd)


def serial_driver(port: str, **options: object) -> SerialDriver:
    driver = create_driver("serial", {"port": port, "timeout": 0.2, **options})
    assert isinstance(driver, SerialDriver)
    return driver


async def test_lines_become_samples_and_bad_lines_are_counted() -> None:
    with pty_pair() as (master, port):
        driver = serial_driver(port, format="jsonl")
        await driver.open()
        try:
            os.write(master, b'{"temp": 21.5}\nnot json\n{"temp": 22, "ok": tru')
            assert await driver.read() == [Sample("temp", 21.5)]
            os.write(master, b'e}\n[1]\n{"temp": 23}\n')
            assert await driver.read() == [Sample("temp", 22.0), Sample("ok", True)]
            assert await driver.read() == [Sample("temp", 23.0)]
            assert driver.rejected == 2
            await driver.write("RELAY ON")
            assert os.read(master, 100) == b"RELAY ON\n"
        finally:
            await driver.close()


async def test_nmea_through_the_port() -> None:
    with pty_pair() as (master, port):
        driver = serial_driver(port, format="nmea", baudrate=4800)
        await driver.open()
        try:
            os.write(master, b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n")
            fields = {s.field for s in await driver.read()}
            assert {"latitude", "longitude", "altitude", "fix_quality", "satellites"} <= fields
        finally:
            await driver.close()


async def test_unplugged_adapter_is_reported_and_reopened_when_back(tmp_path: Path) -> None:
    link = tmp_path / "ttyUSB0"
    driver = serial_driver(str(link), format="csv", columns=["v"])
    with pty_pair() as (master, port):
        link.symlink_to(port)
        await driver.open()
        os.write(master, b"1\n")
        assert await driver.read() == [Sample("v", 1.0)]
    # Both ends closed: the adapter is gone.
    with pytest.raises(DriverUnavailable):
        await asyncio.wait_for(driver.read(), 10)
    await driver.close()
    link.unlink()
    with pytest.raises(DriverUnavailable, match="cannot open"):
        await driver.open()
    with pty_pair() as (master, port):
        link.symlink_to(port)
        await driver.open()
        try:
            os.write(master, b"2\n")
            assert await driver.read() == [Sample("v", 2.0)]
        finally:
            await driver.close()

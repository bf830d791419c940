"""GPIO inputs and outputs through gpiozero's mock pin factory (no pins exist here)."""

from __future__ import annotations

import asyncio

import pytest
from gpiozero.pins.mock import MockFactory

from device_drivers.base import NotWritable, Sample
from device_drivers.registry import create_driver

pytestmark = pytest.mark.timeout(30)


async def test_edges_are_streamed_in_order(pins: MockFactory) -> None:
    driver = create_driver("gpio_in", {"pin": 17, "bounce_time": None, "pull_up": False})
    assert driver.streaming
    await driver.open()
    try:
        pin = pins.pin(17)
        pin.drive_high()
        pin.drive_low()
        pin.drive_high()
        got = [await asyncio.wait_for(driver.read(), 5) for _ in range(3)]
        assert got == [[Sample(None, True)], [Sample(None, False)], [Sample(None, True)]]
        with pytest.raises(NotWritable):
            await driver.write(True)
    finally:
        await driver.close()


async def test_sampled_input(pins: MockFactory) -> None:
    driver = create_driver("gpio_in", {"pin": 22, "mode": "sample", "pull_up": False})
    assert not driver.streaming
    await driver.open()
    try:
        assert await driver.read() == [Sample(None, False)]
        pins.pin(22).drive_high()
        assert await driver.read() == [Sample(None, True)]
    finally:
        await driver.close()


async def test_output_is_driven_by_writes(pins: MockFactory) -> None:
    driver = create_driver("gpio_out", {"pin": 27})
    await driver.open()
    try:
        assert await driver.read() == [Sample(None, False)]
        await driver.write("on")
        assert pins.pin(27).state is True and await driver.read() == [Sample(None, True)]
        await driver.write(False)
        assert pins.pin(27).state is False
        with pytest.raises(NotWritable, match="true/false or on/off"):
            await driver.write("maybe")
    finally:
        await driver.close()
